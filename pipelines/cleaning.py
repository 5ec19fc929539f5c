"""Remove inline related-article link blocks from a page before text extraction.

The rule is structural and language-independent: a block whose visible text is almost all
links to other pages of the same site (after discounting separators and a short label such
as "Read more" or "اقرأ أيضا") is a list of headlines, not prose. Real paragraphs that merely
contain a link keep most of their text outside links and stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

#: Labels that introduce related-links boxes; matched at the start of a block, case-folded.
LABELS = (
    "اقرأ أيضا",
    "اقرأ أيضاً",
    "اقرأ ايضا",
    "إقرأ أيضا",
    "إقرأ أيضاً",
    "اقرا ايضا",
    "طالع أيضا",
    "طالع أيضاً",
    "طالع ايضا",
    "ذات صلة",
    "مواضيع ذات صلة",
    "أخبار ذات صلة",
    "اخبار ذات صلة",
    "مقالات ذات صلة",
    "للمزيد",
    "شاهد أيضا",
    "شاهد أيضاً",
    "شاهد ايضا",
    "المزيد من",
    "اقرأ المزيد",
    "read more",
    "read also",
    "also read",
    "related",
    "related articles",
    "related stories",
    "related news",
    "see also",
    "more on this",
    "more from",
    "recommended",
    "lire aussi",
    "à lire aussi",
    "voir aussi",
    "читайте также",
    "lesen sie auch",
    "mehr zum thema",
)

_SEPARATORS = re.compile(r"[\s\-–—•·*|/:：»«>»،,.؛;()\[\]]+")
_BLOCKS = ("p", "div", "ul", "ol", "li", "aside", "section", "figure", "h4", "h5", "h6")
_PROSE = ("p", "h1", "h2", "h3", "blockquote")
_MAX_BLOCK_CHARS = 700  # a related box is a few headlines; long blocks are content
_CARD_RESIDUE = 15  # letters outside links a headline card may have (date, section)


def _norm(text: str) -> str:
    return " ".join(text.split())


def _letters(text: str) -> int:
    return len(_SEPARATORS.sub("", text))


def _strip_label(text: str) -> tuple[str, bool]:
    low = _norm(text).casefold().replace("ـ", "")
    for label in sorted(LABELS, key=len, reverse=True):
        if low.startswith(label):
            return low[len(label) :], True
    return low, False


def _site(host: str) -> str:
    host = host.lower().split(":")[0]
    return host[4:] if host.startswith("www.") else host


@dataclass
class CleanReport:
    """What the cleaner removed, for the record's quality block."""

    removed_blocks: int = 0
    removed_separators: int = 0
    removed_text: list[str] = field(default_factory=list)


def _same_site_links(el: Any, page_url: str, site: str) -> tuple[int, int]:
    """Return (link characters to other same-site pages, number of such links) inside ``el``."""
    chars = count = 0
    page = page_url.split("#", maxsplit=1)[0]
    for a in el.iter("a"):
        href = (a.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        target = urljoin(page_url, href)
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or _site(parts.netloc) != site:
            continue
        if target.split("#")[0] == page or parts.path in ("", "/"):
            continue
        text = _norm(a.text_content())
        if text:
            chars += _letters(text)
            count += 1
    return chars, count


def _is_related_block(el: Any, page_url: str, site: str) -> bool:
    text = _norm(el.text_content())
    if not text or len(text) > _MAX_BLOCK_CHARS:
        return False
    # A block that holds prose paragraphs of its own is a container, not a headline list.
    if el.tag not in ("p", "li") and any(
        _letters(_norm(p.text_content())) > 200 for p in el.iter(*_PROSE) if p is not el
    ):
        return False
    rest, labelled = _strip_label(text)
    link_chars, links = _same_site_links(el, page_url, site)
    if links == 0:
        return False
    total = _letters(rest if labelled else text)
    if labelled:
        # The label is not link text; what follows it must be (almost) only links.
        return link_chars >= 0.8 * max(total, 1) or total - link_chars <= 3
    if total <= 0:
        return False
    # Cards carry a date or a section name beside the headline: a short residue is allowed.
    residue = total - link_chars
    return link_chars >= 0.9 * total or (residue <= _CARD_RESIDUE and link_chars >= 0.6 * total)


def _is_separator(el: Any) -> bool:
    return el.tag in ("p", "div", "span", "li") and _norm(el.text_content()) in {
        "-",
        "–",
        "—",
        "•",
        "*",
        "|",
        "·",
    }


def remove_related_links(tree: Any, page_url: str) -> CleanReport:
    """Remove related-article link blocks and bare separator lines from ``tree`` in place."""
    report = CleanReport()
    site = _site(urlsplit(page_url).netloc)
    body = tree.find("body")
    if body is None:
        return report
    doomed: list[Any] = []
    taken: set[Any] = set()
    seps: list[Any] = []
    # Outermost qualifying block wins: walk top-down and skip what an ancestor already took.
    for el in body.iter(*_BLOCKS):
        if any(a in taken for a in el.iterancestors()):
            continue
        if _is_separator(el):
            seps.append(el)
        elif _is_related_block(el, page_url, site):
            doomed.append(el)
            taken.add(el)
    for el in doomed:
        report.removed_text.append(_norm(el.text_content())[:200])
        _drop(el)
    report.removed_blocks = len(doomed)
    for el in seps:
        if el.getparent() is not None:
            _drop(el)
            report.removed_separators += 1
    return report


def _drop(el: Any) -> None:
    if el.getparent() is not None:
        # drop_tree keeps the tail text, which belongs to the parent.
        el.drop_tree()
