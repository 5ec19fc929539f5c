from __future__ import annotations

import pytest

from pipelines.dates import find_dates


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("الجمعة ٢٧ نوفمبر ٢٠٢٦", "2026-11-27"),
        ("الأربعاء 19 تشرين الثاني 2025 | قراءات: 2982", "2025-11-19"),
        ("9 كانون الأول 2025", "2025-12-09"),
        ("4 آذار 2026", "2026-03-04"),
        ("22 أيلول 2026", "2026-09-22"),
        ("الاثنين، 21 ديسمبر 2026 09:05 ص", "2026-12-21T09:05:00"),
        ("17 مارس 2026 02:15 م", "2026-03-17T14:15:00"),
        ("12 جويلية 2026", "2026-07-12"),
        ("٣ ديسمبر ٢٠٢٥ الساعة ١٠:٣٠", "2025-12-03T10:30:00"),
        ("May 12, 2026 10:30 GMT", "2026-05-12T10:30:00"),
        ("12 May 2026", "2026-05-12"),
        ("16 février 2026 à 12:40", "2026-02-16T12:40:00"),
        ("نشر بتاريخ 28/11/2026", "2026-11-28"),
        ("2026/11/28", "2026-11-28"),
        ("2/24/2026", "2026-02-24"),  # month first: the only reading
    ],
)
def test_written_dates(text: str, iso: str) -> None:
    assert [d.iso for d in find_dates(text)] == [iso]


def test_update_dates_are_marked() -> None:
    dates = find_dates("نشر في 27 نوفمبر 2026 - آخر تحديث: 28 نوفمبر 2026")
    assert [(d.iso, d.updated) for d in dates] == [("2026-11-27", False), ("2026-11-28", True)]


@pytest.mark.parametrize(
    "text",
    ["31 فبراير 2026", "قتل 12 شخصا في 2026", "room 13/13/2026", "13 مارس 1200", "version 2.3.1"],
)
def test_non_dates_are_ignored(text: str) -> None:
    assert find_dates(text) == []
