"""Remove inline related-article link blocks from a page before text extraction.

The rule is structural and language-independent: a block whose visible text is almost all
links to other pages of the same site (after discounting separators and a short label such
as "Read more" or "اقرأ أيضا") is a list of headlines, not prose. Real paragraphs that merely
contain a link keep most of their text outside links and stay.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from trafilatura.xpaths import BODY_XPATH

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

_SEPARATOR_LINES = frozenset({"-", "–", "—", "•", "*", "|", "·"})
_SEPARATORS = re.compile(r"[\s\-–—•·*|/:：»«>»،,.؛;()\[\]]+")
_HEADINGS = ("h2", "h3", "h4", "h5", "h6")
_BLOCKS = ("p", "div", "ul", "ol", "li", "aside", "section", "figure", "a", *_HEADINGS)
_PROSE = ("p", "h1", "h2", "h3", "blockquote")
_MAX_BLOCK_LETTERS = 600  # a related box is a few headlines; longer blocks are content
_CARD_RESIDUE = 15  # letters outside links a headline card may have (date, section)


def _norm(text: str) -> str:
    return " ".join(text.split())


def _letters(text: str) -> int:
    # Most text nodes of a page are indentation: skip the regex for them.
    if not text or text.isspace():
        return 0
    return len(_SEPARATORS.sub("", text))


# Longest first, so "related articles" wins over "related".
_LABEL_RE = re.compile("|".join(re.escape(x) for x in sorted(LABELS, key=len, reverse=True)))


def _strip_label(text: str) -> tuple[str, bool]:
    low = _norm(text).casefold().replace("ـ", "")
    found = _LABEL_RE.match(low)
    if found:
        return low[found.end() :], True
    return low, False


def _site(host: str) -> str:
    host = host.lower().split(":")[0]
    return host[4:] if host.startswith("www.") else host


@dataclass
class CleanReport:
    """What the cleaner removed, for the record's quality block."""

    removed_blocks: int = 0
    removed_inline: int = 0  # of those, blocks that stood between two paragraphs of text
    removed_separators: int = 0
    removed_text: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Measure:
    letters: int  # visible letters, separators excluded
    link_letters: int  # letters inside links to other pages of the same site
    links: int  # such links
    prose: bool  # holds a prose element (paragraph, heading) of its own with > 200 letters
    any_link_letters: int = 0  # letters inside links to any other page, on any site


class _Measurer:
    """One bottom-up pass over the tree, so every block is judged without re-reading text."""

    def __init__(self, page_url: str, site: str) -> None:
        parts = urlsplit(page_url)
        self.page_url = page_url
        self.netloc = parts.netloc
        self.page_target = parts.path + (f"?{parts.query}" if parts.query else "")
        self.site = site
        self.sizes: dict[Any, _Measure] = {}

    def _same_site_article(self, href: str) -> bool:
        # Hundreds of links a page: split by hand instead of urljoin for the common shapes.
        href = href.strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
            return False
        if href.startswith("//"):
            netloc, _, rest = href[2:].partition("/")
            path = "/" + rest
        elif "://" in href[:12]:
            scheme, _, tail = href.partition("://")
            if scheme.lower() not in ("http", "https"):
                return False
            netloc, _, rest = tail.partition("/")
            path = "/" + rest
        elif href.startswith("/"):
            netloc, path = self.netloc, href
        else:
            parts = urlsplit(urljoin(self.page_url, href))
            netloc = parts.netloc
            path = parts.path + (f"?{parts.query}" if parts.query else "")
        target = path.partition("#")[0]
        path = target.partition("?")[0]
        if _site(netloc) != self.site or path in ("", "/"):
            return False
        # Same path, other query: another article on sites like /article.php?id=N.
        return target != self.page_target

    def measure(self, el: Any) -> _Measure:
        letters = _letters(el.text or "")
        link_letters = links = any_link = 0
        prose = False
        for child in el:
            if isinstance(child.tag, str):
                m = self.measure(child)
                letters += m.letters
                link_letters += m.link_letters
                links += m.links
                any_link += m.any_link_letters
                prose = prose or m.prose or (child.tag in _PROSE and m.letters > 200)
            letters += _letters(child.tail or "")
        if el.tag == "a" and letters:
            href = (el.get("href") or "").strip()
            if self._same_site_article(href):
                link_letters, links = letters, links + 1
            if href.startswith(("http://", "https://", "/")) or self._same_site_article(href):
                any_link = letters
        m = _Measure(letters, link_letters, links, prose, any_link)
        self.sizes[el] = m
        return m


def _is_related_block(el: Any, m: _Measure) -> bool:
    if m.letters == 0 or m.letters > _MAX_BLOCK_LETTERS:
        return False
    if m.links == 0 and not (m.any_link_letters and _strip_label(el.text_content())[1]):
        return False
    if el.tag in _HEADINGS:
        # A heading is a sub-heading unless all of it is a link to another article.
        return m.link_letters == m.letters
    if el.tag == "a":
        # A link used as a block (a card: headline, image), not a link inside a sentence.
        parent = el.getparent()
        if parent is None or parent.tag in (
            "p",
            "li",
            "span",
            "em",
            "strong",
            "b",
            "i",
            *_HEADINGS,
        ):
            return False
        if "author" in (el.get("rel") or "") or "/author" in (el.get("href") or ""):
            return False  # a byline with its avatar
        headline = el.find(".//h2") is not None or el.find(".//h3") is not None
        headline = headline or el.find(".//h4") is not None or el.find(".//h5") is not None
        pictured = el.find(".//img") is not None and len(el.text_content().split()) >= 4
        return m.link_letters == m.letters and (headline or pictured or _alone_on_its_line(el))
    # A block that holds prose paragraphs of its own is a container, not a headline list.
    if el.tag not in ("p", "li") and m.prose:
        return False
    link_chars = m.link_letters
    total = m.letters
    rest, labelled = _strip_label(el.text_content())
    if labelled and m.any_link_letters > link_chars:
        # "Read more:" before a link to another publication is a promo line all the same.
        link_chars = m.any_link_letters
    if not labelled and m.letters - m.link_letters <= 2 * _CARD_RESIDUE:
        # An unknown label works the same way: a few words and a colon before the link
        # ("Plus:", "Also on the Gazette:").
        label = _residue(el)
        if label.endswith((":", "：")) and len(label.split()) <= 5 and m.links:
            total = m.letters - _letters(label)
            return link_chars >= 0.8 * max(total, 1) or total - link_chars <= 3
    if labelled:
        # The label is not link text; what follows it must be (almost) only links, with at
        # most a short attribution ("(Leme Gazette)").
        total = _letters(rest)
        return link_chars >= 0.8 * max(total, 1) or total - link_chars <= _CARD_RESIDUE
    # Cards carry a date or a section name beside the headline: a short residue is allowed.
    residue = total - link_chars
    return link_chars >= 0.9 * total or (residue <= _CARD_RESIDUE and link_chars >= 0.6 * total)


def _in_mixed_list(li: Any, lists: dict[Any, bool]) -> bool:
    """Tell whether a list item sits among items without links: a checklist's, not a link list's.

    A list of other articles is links throughout; a packing list or a list of steps links some
    of its items to reviews or guides and leaves the others plain. A breadcrumb leaves only its
    last item (the page itself) plain: that is no checklist. ``lists`` keeps each list's answer
    (a menu of a hundred links is looked at once, not once per item).
    """
    parent = li.getparent()
    if parent is None or parent.tag not in ("ul", "ol"):
        return False
    if parent not in lists:
        items = list(parent.iterchildren("li"))
        plain = []
        for i, item in enumerate(items):
            if item.find(".//a") is None:
                text = item.text_content().strip()
                if text and not text.endswith((":", "：")):  # not a label ("You are here:")
                    plain.append(i)
        lists[parent] = len(plain) >= 2 or (len(plain) == 1 and plain[0] != len(items) - 1)
    return lists[parent]


def _alone_on_its_line(el: Any, lead: Any = None) -> bool:
    """Tell whether a headline-long link stands alone between line breaks (<br>-built pages).

    With ``lead`` (a label element just before the link), the line is the label and the link.
    """
    if len(el.text_content().split()) < 4 or (el.tail or "").strip():
        return False
    first = lead if lead is not None else el
    before, after = first.getprevious(), el.getnext()
    if after is not None and after.tag != "br":
        return False
    if before is None:
        return not (first.getparent().text or "").strip()
    # After a line break or a block (a quote, a list), with nothing written in between.
    starts_line = before.tag in ("br", "blockquote", "p", "div", "ul", "ol", "table", *_HEADINGS)
    return starts_line and not (before.tail or "").strip()


def _residue(el: Any) -> str:
    """Return the text of ``el`` that precedes its first link, whitespace-normalized."""
    parts = [el.text or ""]
    for child in el.iterdescendants():
        if child.tag == "a":
            break
        if child.getparent() is not None and child.tag != "a":
            parts.append(child.text or "")
            if not any(d.tag == "a" for d in child.iterdescendants()):
                parts.append(child.tail or "")
    return " ".join("".join(parts).split())


def _is_separator(el: Any, m: _Measure) -> bool:
    return (
        m.letters == 0
        and el.tag in ("p", "div", "span", "li")
        and _norm(el.text_content()) in _SEPARATOR_LINES
    )


def remove_related_links(tree: Any, page_url: str) -> CleanReport:
    """Remove related-article link blocks and bare separator lines from ``tree`` in place."""
    report = CleanReport()
    body = tree.find("body")
    if body is None:
        return report
    measurer = _Measurer(page_url, _site(urlsplit(page_url).netloc))
    measurer.measure(body)
    sizes = measurer.sizes
    doomed: list[Any] = []
    taken: set[Any] = set()
    lists: dict[Any, bool] = {}
    seps: list[Any] = []
    # Outermost qualifying block wins: walk top-down and skip what an ancestor already took.
    for el in body.iter(*_BLOCKS):
        if el in taken:
            continue
        m = sizes[el]
        if _is_separator(el, m):
            seps.append(el)
        elif _is_related_block(el, m) and not (el.tag == "li" and _in_mixed_list(el, lists)):
            doomed.append(el)
            taken.update(el.iter())
    # A label and its link on a line of their own, in pages built with <br>: no block to drop.
    for a in body.iter("a"):
        label = a.getprevious()
        if (
            label is not None
            and label.tag in ("b", "strong", "span", "em", "font")
            and not (label.tail or "").strip()
            and _strip_label(label.text_content())[1]
            and not _strip_label(label.text_content())[0].strip(" :：-–")
            and sizes.get(a) is not None
            and sizes[a].any_link_letters
            and _alone_on_its_line(a, lead=label)
            and a not in taken
        ):
            doomed.extend([label, a])
    for el in doomed:
        if el.getparent() is None:
            continue
        report.removed_text.append(_norm(el.text_content())[:200])
        if _between_paragraphs(el):
            report.removed_inline += 1
        _drop(el)
    report.removed_blocks = len(doomed)
    for el in seps:
        if el.getparent() is not None:
            _drop(el)
            report.removed_separators += 1
    return report


def _between_paragraphs(el: Any) -> bool:
    """Tell whether a block stands among paragraphs of text (an inline related block)."""

    def prose(siblings: Any) -> bool:
        for _, node in zip(range(3), siblings, strict=False):
            if node.tag in ("p", "div") and _letters(node.text_content()) > 50:
                return True
        return False

    return prose(el.itersiblings(preceding=True)) and prose(el.itersiblings())


def _drop(el: Any) -> None:
    if el.getparent() is not None:
        # drop_tree keeps the tail text, which belongs to the parent.
        el.drop_tree()


# Embedded posts: their quoted text is someone else's words, their chrome is noise.
_EMBED_TAGS = frozenset(
    {"iframe", "amp-twitter", "amp-instagram", "amp-facebook", "amp-youtube", "amp-iframe"}
)
_EMBED_CLASS = re.compile("twitter|instagram|tiktok|facebook|embed")
_FORM_TEXT = 300  # letters: a sign-up box is a line or two around its form


def _is_grid(table: Any) -> bool:
    """Tell whether a table is a grid of data: three rows or more of the same three cells or more.

    A comparison table ("NetSuite / HubSpot / Zoho" against sizes and features) has long text
    in its cells, yet is the article's data; layout tables are one or two columns of blocks.
    """
    if table.find(".//table") is not None:
        return False
    rows = table.xpath("./tr | ./*/tr")
    if len(rows) < 3:
        return False
    widths = Counter(len(row.xpath("./td | ./th")) for row in rows)
    width, n = widths.most_common(1)[0]
    return width >= 3 and n >= 0.8 * len(rows)


def unwrap_layout_tables(tree: Any) -> int:
    """Turn tables used for page layout into plain blocks; return how many.

    Old templates put the whole article in a table cell; extractors then treat it as tabular
    data. A table is layout when a cell holds paragraphs or other tables, or long running text;
    data tables (prices, results) have short cells and stay tables, even when an editor wraps
    each cell's text in a ``<p>`` of its own.
    """
    count = 0
    for table in reversed(tree.xpath("//table")):  # innermost first
        cells = table.xpath("./tr/td | ./*/tr/td | ./tr/th | ./*/tr/th")
        if _is_grid(table):
            continue
        layout = any(
            cell.find(".//table") is not None
            or _letters(cell.text_content()) > 250
            or len(cell.xpath(".//p | .//div | .//ul | .//ol")) >= 2
            for cell in cells
        )
        if not layout:
            continue
        # Only this table's own rows and cells: a data table nested in it stays a table.
        own = [
            el
            for el in table.iterdescendants("tbody", "thead", "tfoot", "tr", "td", "th")
            if next(el.iterancestors("table"), None) is table
        ]
        for el in [*own, table]:
            el.tag = "div"
        count += 1
    return count


# Short page chrome recognised by its own markup: buttons, photo credits, consent banners, text
# only screen readers get ("Article for subscribers"), video players and their cards (a title
# and a blurb of another item). Matched on class and id in one pass over the page.
_CHROME_CLASS = re.compile(
    "credit|cookie|consent|gdpr|sr-only|visually-hidden|screen-reader-text|visuallyhidden"
    "|video-player|video-resource"
)
_CHROME_ID = re.compile("cookie|consent|gdpr")
_CAPTION_CLASS = re.compile("[cC]aption")
_CHROME_TEXT = 600  # letters: a banner or a credit, never an article body


def _is_chrome(el: Any, cls: str) -> bool:
    return (
        el.tag in ("button", "video")
        or bool(cls and _CHROME_CLASS.search(cls))
        or bool(_CHROME_ID.search(el.get("id") or ""))
        or "copyrightHolder" in (el.get("itemprop") or "")
        or el.get("data-media-type") == "video"
        or "video" in (el.get("data-component-name") or "")
    )


def remove_boilerplate(tree: Any) -> int:
    """Remove embedded posts, sign-up boxes, buttons, photo credits, consent banners, captions.

    Captions go only from pages whose text is mostly not captions: in a photo story the
    captions are the story.
    """
    captions, chrome, embeds, forms = [], [], [], []
    paragraphs = []
    for el in tree.iter():
        tag = el.tag
        if not isinstance(tag, str):
            continue
        if tag == "p":
            paragraphs.append(el)
        cls = el.get("class") or ""
        if (tag == "figcaption" or (cls and _CAPTION_CLASS.search(cls))) and tag not in (
            "body",
            "article",
            "main",
        ):
            captions.append(el)
        if _is_chrome(el, cls):
            chrome.append(el)
        if tag in _EMBED_TAGS or (tag == "blockquote" and cls and _EMBED_CLASS.search(cls)):
            embeds.append(el)
        if tag == "form" or (tag == "input" and el.get("type") == "email"):
            forms.append(el)
    removed = 0
    caption_letters = sum(_letters(el.text_content()) for el in captions)
    # Measured only on pages with captions: most have none.
    text_letters = sum(_letters(p.text_content()) for p in paragraphs) if captions else 0
    if captions and caption_letters < 0.3 * max(text_letters, 1):
        for el in captions:
            if el.getparent() is not None and _letters(el.text_content()) <= _CHROME_TEXT:
                _drop(el)
                removed += 1
    for el in chrome:
        if (
            el.getparent() is not None
            and el.tag not in ("body", "html", "article", "main")
            and _letters(el.text_content()) <= _CHROME_TEXT
        ):
            _drop(el)
            removed += 1
    for el in embeds:
        if el.getparent() is not None:
            _drop(el)
            removed += 1
    for form in forms:
        box = form
        # Climb to the box that holds the form with its pitch, not further.
        for parent in form.iterancestors():
            if (
                parent.tag in ("body", "article", "main")
                or _letters(parent.text_content()) > _FORM_TEXT
            ):
                break
            box = parent
        if box.getparent() is not None and _letters(box.text_content()) <= _FORM_TEXT:
            _drop(box)
            removed += 1
    return removed


# Class tokens trafilatura discards by substring that also name article containers: a Webflow
# "w-embed" holding a table and its paragraphs, "listicle-slides", a CMS's "…_meta_field" rich
# text, "accordion-icon" wrappers of FAQ answers. Tokens naming chrome outright are not here.
_WEAK_DISCARD = re.compile("embed|slide|bar|-icon|expand|viewport|meta|options|attachment")
_STRONG_CHROME = re.compile(
    "comment|related|share|social|newsletter|footer|nav|menu|sidebar|author|byline|promo"
    "|advert|sponsor|cookie|consent|modal|popup|toolbar|navbar|topbar|breadcrumb",
    re.IGNORECASE,
)
_SHIELD_LETTERS = 400  # letters of paragraphs: a block of the story, not a widget's blurb
_SHIELD_LINKS = 0.2  # largest share of a shielded block's letters inside links


def shield_prose(tree: Any) -> int:
    """Keep trafilatura from discarding article prose for a word in its container's class.

    Trafilatura drops blocks whose class merely contains "embed", "slide", "bar", "meta"…; a
    block holding paragraphs of the story with few links loses those class tokens instead.
    Returns how many blocks were shielded.
    """
    shielded = 0
    for el in tree.iter("div", "section", "span", "p"):
        cls = el.get("class")
        if not cls or not _WEAK_DISCARD.search(cls) or _STRONG_CHROME.search(cls):
            continue
        paragraphs = [n for p in el.iter("p") if (n := _letters(p.text_content())) > 80]
        if len(paragraphs) < 2 or sum(paragraphs) < _SHIELD_LETTERS:
            continue
        links = sum(_letters(a.text_content()) for a in el.iter("a"))
        if links > _SHIELD_LINKS * _letters(el.text_content()):
            continue
        el.set("class", " ".join(t for t in cls.split() if not _WEAK_DISCARD.search(t)))
        shielded += 1
    return shielded


_INLINE = frozenset(
    [
        "a",
        "abbr",
        "b",
        "bdi",
        "bdo",
        "br",
        "cite",
        "code",
        "data",
        "dfn",
        "em",
        "font",
        "i",
        "kbd",
        "mark",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "time",
        "tt",
        "u",
        "var",
    ]
)
_LOOSE_CONTAINERS = ("body", "div", "section", "article", "main", "td", "blockquote")
_PROSE_SIBLINGS = frozenset(
    ["p", "h1", "h2", "h3", "h4", "h5", "h6", "ol", "ul", "dl", "blockquote", "pre"]
)
_LOOSE_LETTERS = 25  # letters: a sentence of prose, not a separator or a stray label


def _is_inline(el: Any) -> bool:
    # Comments and processing instructions move with the text around them; a link wrapping a
    # card (<a><div>…</div></a>) is a block.
    if not isinstance(el.tag, str):
        return True
    return el.tag in _INLINE and all(
        d.tag in _INLINE for d in el.iterdescendants() if isinstance(d.tag, str)
    )


def wrap_loose_text(tree: Any) -> int:
    """Put prose written straight into a container, beside its blocks, into paragraphs.

    Hand-written and older pages set their paragraphs as bare text between ``<ol>``, ``<h2>``
    or ``<p>`` siblings in the ``<body>`` or a ``<div>``; trafilatura reads only blocks and
    loses that text. Each such run of text and inline elements becomes a ``<p>`` where it
    stands. Returns how many paragraphs were made.
    """
    made = 0
    for el in list(tree.iter(*_LOOSE_CONTAINERS)):
        children = list(el)
        blocks = [i for i, c in enumerate(children) if not _is_inline(c)]
        # Beside paragraphs, headings or lists the run is one more paragraph of the text;
        # beside only <div>s it is a widget's label, which trafilatura rightly skips.
        if not any(children[i].tag in _PROSE_SIBLINGS for i in blocks):
            continue
        runs: list[tuple[int, int]] = []  # [start, end) spans of inline children
        start = 0
        for i in [*blocks, len(children)]:
            runs.append((start, i))
            start = i + 1
        # Backwards, so inserting a paragraph does not shift the spans still to do.
        for start, end in reversed(runs):
            lead_owner = children[start - 1] if start else None
            lead = (lead_owner.tail if lead_owner is not None else el.text) or ""
            inline = children[start:end]
            letters = _letters(lead) + sum(
                _letters(c.text_content() if isinstance(c.tag, str) else "")
                + _letters(c.tail or "")
                for c in inline
            )
            if letters < _LOOSE_LETTERS:
                continue
            p = el.makeelement("p", {})
            p.text = lead
            if lead_owner is not None:
                lead_owner.tail = None
            else:
                el.text = None
            for c in inline:
                p.append(c)  # moves it, with its tail
            el.insert(start, p)
            made += 1
    return made


_STUB_LETTERS = 300  # letters: a breadcrumb or a header box, not the article's frame
# Trafilatura's frame XPaths but its two widest (any "content" or "story" class), which cost
# as much CPU as the others together and match containers too big to be a stub.
_FRAME_XPATHS = (BODY_XPATH[0], BODY_XPATH[1], BODY_XPATH[4])


def _first_frame_test() -> Callable[[Any], bool] | None:
    """Trafilatura's first frame XPath as a Python test of one element, or None if unread.

    That XPath runs a regular expression over every block of the page, which costs more than
    all the rest of the stub check; lxml runs EXSLT ``re:test`` with Python's ``re``, so the
    same patterns in one pass over the blocks find the same first match.
    """
    path = BODY_XPATH[0].path
    tests = dict(re.findall(r"re:test\(@(id|class), '([^']+)'\)", path))
    equal = re.findall(r"@(\w+)='([^']+)'", path)
    if set(tests) != {"id", "class"} or not equal or "[1]" not in path:
        return None
    by_id, by_class = re.compile(tests["id"]), re.compile(tests["class"])

    def test(el: Any) -> bool:
        cls, ident = el.get("class"), el.get("id")
        return (
            any(el.get(attr) == value for attr, value in equal)
            or bool(ident is not None and by_id.search(ident))
            or bool(cls is not None and by_class.search(cls))
        )

    return test


_FIRST_FRAME = _first_frame_test()


def _first_frame(tree: Any) -> Any:
    """Find the first element trafilatura's first frame XPath matches, the cheap way."""
    assert _FIRST_FRAME is not None
    # Lazily, in document order: the walk stops at the first match, high on most pages.
    blocks = tree.iter("article", "div", "main", "section")
    return next((el for el in blocks if el.attrib and _FIRST_FRAME(el)), None)


def unmark_stub_frames(tree: Any) -> tuple[int, Any]:
    """Keep trafilatura from taking a breadcrumb for the article's frame.

    Trafilatura tries each of its content XPaths in turn and takes only the first element each
    one matches; when that is a small box whose class merely looks like a frame
    ("page-content-breadcrumbs") it gives up on that XPath, though a later match holds the
    article, and falls back to gathering loose paragraphs. Such a stub loses the class tokens
    and id that matched.

    Returns:
        How many elements were unmarked, and the frame trafilatura will now take (None when
        no content XPath matches), for :func:`unmark_wrapping_comments`.

    """
    if _FIRST_FRAME is not None:
        first = _first_frame(tree)
        if first is not None and _letters(first.text_content()) >= _STUB_LETTERS:
            return 0, first  # the common case: trafilatura takes this one
    for expr in _FRAME_XPATHS:
        found = expr(tree)
        if not found:
            continue
        if _letters(found[0].text_content()) >= _STUB_LETTERS:
            return 0, found[0]  # trafilatura takes this one: nothing stands in its way
        sizes = [_letters(el.text_content()) for el in found]
        best = max(range(len(found)), key=sizes.__getitem__)
        if sizes[best] < 3 * _STUB_LETTERS:
            continue
        unmarked = 0
        for stub in found[:best]:
            if stub in found[best].iterancestors():
                continue
            # Drop tokens one by one until the XPath no longer matches: the rest stay for
            # trafilatura's own rules ("nav", "breadcrumb" still mark the box for discarding).
            for attr in ("class", "id"):
                tokens = (stub.get(attr) or "").split()
                while tokens and stub in expr(tree):
                    tokens.pop(0)
                    stub.set(attr, " ".join(tokens))
            unmarked += 1
        return unmarked, found[best]
    return 0, None


_COMMENT = re.compile("comment", re.IGNORECASE)
_WRAPPER_SHARE = 0.9  # of the frame's letters: a box around the whole story, not beside it


def unmark_wrapping_comments(frame: Any) -> int:
    """Keep trafilatura from discarding the whole story for a "comment" in a wrapper's class.

    A box that lets readers comment on the text ("commentOnSelection", "comments-enabled")
    wraps all of the article frame; a comment section sits beside the story in it. A box in
    the frame that holds nearly all of its letters loses the class and id tokens naming
    comments. ``frame`` is the one :func:`unmark_stub_frames` found. Returns how many boxes
    were unmarked.
    """
    if frame is None:
        return 0
    total = _letters(frame.text_content())
    if total < 3 * _STUB_LETTERS:
        return 0
    unmarked = 0
    for el in frame.iterdescendants():
        if not isinstance(el.tag, str):
            continue
        marked = [a for a in ("class", "id") if _COMMENT.search(el.get(a) or "")]
        if not marked or _letters(el.text_content()) < _WRAPPER_SHARE * total:
            continue
        for attr in marked:
            el.set(
                attr, " ".join(t for t in (el.get(attr) or "").split() if not _COMMENT.search(t))
            )
        unmarked += 1
    return unmarked
