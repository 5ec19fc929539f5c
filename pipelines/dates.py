"""Dates written for readers (Arabic, English, French months; Arabic-Indic digits) to ISO 8601."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")

# Longest names first in the pattern, so "كانون الثاني" wins over a bare word.
MONTHS: dict[str, int] = {
    # Levantine (Syriac) names
    "كانون الثاني": 1,
    "شباط": 2,
    "آذار": 3,
    "اذار": 3,
    "نيسان": 4,
    "أيار": 5,
    "ايار": 5,
    "حزيران": 6,
    "تموز": 7,
    "آب": 8,
    "اب": 8,
    "أيلول": 9,
    "ايلول": 9,
    "تشرين الأول": 10,
    "تشرين الاول": 10,
    "تشرين الثاني": 11,
    "كانون الأول": 12,
    "كانون الاول": 12,
    # Egyptian / Gulf transliterations
    "يناير": 1,
    "فبراير": 2,
    "مارس": 3,
    "أبريل": 4,
    "ابريل": 4,
    "إبريل": 4,
    "مايو": 5,
    "يونيو": 6,
    "يونيه": 6,
    "يوليو": 7,
    "يوليه": 7,
    "أغسطس": 8,
    "اغسطس": 8,
    "سبتمبر": 9,
    "أكتوبر": 10,
    "اكتوبر": 10,
    "نوفمبر": 11,
    "ديسمبر": 12,
    # Maghrebi (French-derived)
    "جانفي": 1,
    "فيفري": 2,
    "أفريل": 4,
    "افريل": 4,
    "ماي": 5,
    "جوان": 6,
    "جويلية": 7,
    "أوت": 8,
    "اوت": 8,
    # English
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
    # French
    "janvier": 1,
    "février": 2,
    "fevrier": 2,
    "mars": 3,
    "avril": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "août": 8,
    "aout": 8,
    "septembre": 9,
    "octobre": 10,
    "novembre": 11,
    "décembre": 12,
    "decembre": 12,
}

_MONTH = "|".join(re.escape(m) for m in sorted(MONTHS, key=len, reverse=True))
_SEP = r"[\s,،.\-/]*"
# "28 نوفمبر 2026", "28 November 2026", "الجمعة ٢٧ نوفمبر ٢٠٢٦"
_DMY = re.compile(
    rf"(?<!\d)(\d{{1,2}})(?:st|nd|rd|th|er)?{_SEP}({_MONTH}){_SEP}(\d{{4}})(?!\d)", re.I
)
# "November 28, 2026"
_MDY = re.compile(
    rf"(?<![\w])({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})(?!\d)", re.I
)
# "28/11/2026", "28-11-2026", "2026/11/28"
_NUMERIC = re.compile(
    r"(?<!\d)(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?!\d)|(?<!\d)(\d{4})[/.\-](\d{1,2})[/.\-](\d{1,2})(?!\d)"
)
_TIME = re.compile(
    r"(?<!\d)(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(ص|م|صباحا|صباحاً|مساء|مساءً|a\.?m\.?|p\.?m\.?)?",
    re.I,
)
_TIME_LEAD = re.compile(r"[\s,،\-–|]*(?:الساعة|at|à|в|um)?\s*", re.I)
_UPDATE = re.compile(r"(تحديث|محدث|عدل|updated?|modified|mis à jour|обновлено)", re.I)


@dataclass(frozen=True)
class FoundDate:
    """A date found in text: ISO string (with time when shown), and where it was."""

    iso: str
    start: int
    end: int
    updated: bool  # introduced as an update/modification date


def _valid(y: int, m: int, d: int) -> bool:
    try:
        date(y, m, d)
    except ValueError:
        return False
    return 1990 <= y <= 2100


def _with_time(text: str, end: int, day: date) -> tuple[str, int]:
    lead = _TIME_LEAD.match(text, end)
    start = lead.end() if lead else end
    match = _TIME.match(text, start)
    if not match:
        return day.isoformat(), end
    hour, minute = int(match.group(1)), int(match.group(2))
    second = int(match.group(3) or 0)
    suffix = (match.group(4) or "").lower().replace(".", "")
    if suffix in ("م", "مساء", "مساءً", "pm") and hour < 12:
        hour += 12
    elif suffix in ("ص", "صباحا", "صباحاً", "am") and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or second > 59:
        return day.isoformat(), end
    stamp = datetime(day.year, day.month, day.day, hour, minute, second)
    return stamp.isoformat(), match.end()


def find_dates(text: str) -> list[FoundDate]:
    """Return every calendar date written in ``text``, in order of appearance."""
    text = text.translate(_DIGITS)
    found: list[tuple[int, int, int, int, int]] = []  # start, end, y, m, d
    for match in _DMY.finditer(text):
        d, m, y = int(match.group(1)), MONTHS[match.group(2).lower()], int(match.group(3))
        found.append((match.start(), match.end(), y, m, d))
    for match in _MDY.finditer(text):
        m, d, y = MONTHS[match.group(1).lower()], int(match.group(2)), int(match.group(3))
        found.append((match.start(), match.end(), y, m, d))
    for match in _NUMERIC.finditer(text):
        if match.group(3):  # day first, as Arabic and European pages write it
            d, m, y = int(match.group(1)), int(match.group(2)), int(match.group(3))
            if m > 12 >= d:
                d, m = m, d  # month first, as US pages write it: "2/24/2026" has one reading
        else:
            y, m, d = int(match.group(4)), int(match.group(5)), int(match.group(6))
        found.append((match.start(), match.end(), y, m, d))
    out: list[FoundDate] = []
    taken_until = -1
    for start, end, y, m, d in sorted(found):
        if start < taken_until or not _valid(y, m, d):
            continue
        iso, stop = _with_time(text, end, date(y, m, d))
        before = text[max(0, start - 40) : start]
        out.append(FoundDate(iso, start, stop, bool(_UPDATE.search(before))))
        taken_until = stop
    return out
