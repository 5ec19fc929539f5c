"""Structured page metadata: JSON-LD, OpenGraph and ``<meta>`` tags, ``<time>``, canonical link."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from lxml import etree
from lxml import html as lxml_html

ARTICLE_TYPES = frozenset(
    {
        "Article",
        "NewsArticle",
        "ReportageNewsArticle",
        "AnalysisNewsArticle",
        "OpinionNewsArticle",
        "BackgroundNewsArticle",
        "ReviewNewsArticle",
        "AskPublicNewsArticle",
        "BlogPosting",
        "LiveBlogPosting",
        "Report",
        "ScholarlyArticle",
        "SatiricalArticle",
    }
)

_AUTHOR_PREFIX = re.compile(
    r"^\s*((photographs|photos|pictures|words|text|reporting|interview|report) by|by|from"
    r"|بقلم|كتب|كتبت|كتبه|تحرير|إعداد|اعداد|par|por|von|автор|авторы|نویسنده)"
    r"(?![\w])\s*[:：\-–]?\s*",
    re.IGNORECASE,
)
# Bylines that name no person.
_NOT_A_PERSON = re.compile(
    r"^(staff( report| writer)?s?|editorial( (board|staff|team))?|the editors?|agencies|wires?|"
    r"newsroom|reuters|afp|ap|المحرر|هيئة التحرير|وكالات|محرر الموقع|فريق التحرير|редакция)$"
    r"|(?-i:^[A-Z]{2,6}$)",  # an outlet's initials after the names ("…, CNX")
    re.IGNORECASE,
)


@dataclass
class PageMeta:
    """What a page declares about itself, before any text extraction."""

    types: list[str] = field(default_factory=list)
    og_type: str | None = None
    title: str | None = None
    site_name: str | None = None
    publisher: str | None = None  # JSON-LD publisher's name
    description: str | None = None
    canonical_url: str | None = None
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    published_source: str | None = None
    modified: str | None = None
    language: str | None = None
    image: str | None = None
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    @property
    def is_article(self) -> bool:
        """The page declares itself an article (JSON-LD type or ``og:type``)."""
        return bool(ARTICLE_TYPES.intersection(self.types)) or (self.og_type or "") == "article"


def _json_ld_nodes(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _json_ld_nodes(item)
    elif isinstance(data, dict):
        yield data
        for key in ("@graph", "mainEntity", "mainEntityOfPage", "itemListElement"):
            if key in data and isinstance(data[key], (list, dict)):
                yield from _json_ld_nodes(data[key])


def _types(node: dict[str, Any]) -> list[str]:
    value = node.get("@type", [])
    values = value if isinstance(value, list) else [value]
    return [v.rsplit("/", 1)[-1] for v in values if isinstance(v, str)]


def _names(value: Any) -> list[str]:
    if isinstance(value, list):
        return [n for v in value for n in _names(v)]
    if isinstance(value, dict):
        if "Organization" in _types(value) or "NewsMediaOrganization" in _types(value):
            return []  # the publisher as author names no person
        return _names(value.get("name"))
    if isinstance(value, str) and value.strip():
        return [_unescape(value.strip())]
    return []


def _unescape(value: str) -> str:
    """Undo entities escaped twice by a CMS ("&amp;#8211;" in markup reads "&#8211;")."""
    return html.unescape(value) if "&" in value else value


def _resolve(value: Any, by_id: dict[str, dict[str, Any]]) -> Any:
    """Replace JSON-LD references ({"@id": "#/schema/person/1"}) by the nodes they name."""
    if isinstance(value, list):
        return [_resolve(v, by_id) for v in value]
    if isinstance(value, dict) and "name" not in value and isinstance(value.get("@id"), str):
        return by_id.get(value["@id"], value)
    return value


def _first_str(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url") or value.get("@id") or value.get("name")
    return _unescape(value.strip()) if isinstance(value, str) and value.strip() else None


# "Written by", "Reviewed by", "Author:" before a name, or "By" glued to it ("BySummer Swann")
# where the byline's label and name are two elements with no space between them.
_LONG_PREFIX = re.compile(
    r"^\s*((written|posted|article|story|published|authored|reviewed|edited|words|column)\s+by"
    r"|author|authors|writer|written by|contributor)\s*[:：\-–]?\s+",
    re.IGNORECASE,
)
_GLUED_BY = re.compile(r"^(?:(?:Written|Posted|Article|Story) ?)?By(?=[A-Z][a-z])")
# Parts of a byline that are not names: job titles, credentials, links and dates beside them.
_ROLE_WORDS = frozenset(
    [
        "director",
        "editor",
        "editors",
        "attorney",
        "lawyer",
        "journalist",
        "consultant",
        "writer",
        "reporter",
        "correspondent",
        "columnist",
        "contributor",
        "manager",
        "officer",
        "president",
        "founder",
        "ceo",
        "cto",
        "analyst",
        "specialist",
        "certified",
        "expert",
        "advisor",
        "adviser",
        "strategist",
        "producer",
        "photographer",
        "designer",
        "engineer",
        "professor",
        "researcher",
        "scientist",
        "nurse",
        "physician",
        "coordinator",
        "intern",
        "assistant",
        "associate",
        "partner",
        "owner",
        "lead",
        "head",
        "chief",
        "senior",
        "sr.",
        "jr.",
        "staff",
        "team",
        "bio",
        "biography",
        "profile",
        "cite",
        "print",
        "learn",
        "editorial",
        "policies",
        "policy",
        "process",
        "university",
        "co-founder",
        "written",
        "insights",
        "updated",
        "published",
        "follow",
        "email",
        "view",
        "read",
        "more",
        "share",
        "about",
        "years",
        "author",
        "headshot",
        "avatar",
        "photo",
        "portrait",
        "login",
        "home",
    ]
)
_MONTH_ABBREVIATIONS = frozenset(
    ["jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"]
)
_TEAM_WORDS = frozenset(["team", "staff", "editors", "desk", "newsroom"])
_MONTHS = frozenset(
    [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ]
)
_CREDENTIALS = re.compile(r"^(?:[A-Z]{2,5}|[A-Z][a-z]?\.?[A-Z][a-z]?\.?|Ph\.?D\.?|M\.?D\.?)$")


def _is_role(name: str) -> bool:
    words = [w.strip(".,()®™'’").lower() for w in name.split()]
    if "@" in name:
        return True
    named = [w for w in words[:-1] if w != "the"]
    if len(words) >= 2 and words[-1] in _TEAM_WORDS and named:
        # "The Upwork Team", "Resy Staff": a named team signs the piece; "Editorial Team" and
        # "Senior Staff" name nobody.
        return any(w in _ROLE_WORDS or w in _TEAM_WORDS for w in named)
    if len(words) >= 2 and any(w in _ROLE_WORDS or f"{w}." in _ROLE_WORDS for w in words):
        return True
    return len(words) == 1 and (
        words[0] in _ROLE_WORDS or words[0] in _MONTHS or words[0] in _MONTH_ABBREVIATIONS
    )


# A date cut off after the name at its first digit leaves its month: "Luke Kim December",
# "Allin One on Jan".
_TRAILING_MONTH = re.compile(
    r"(?<=\S)\s+(?:on\s+|updated\s+|published\s+)?(?:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov"
    r"|dec|january|february|march|april|june|july|august|september|october|november|december)"
    r"\.?$",
    re.IGNORECASE,
)


def clean_author(name: str) -> str | None:
    """Strip "By"/"بقلم" prefixes, a "City:" dateline and stray punctuation from a byline name."""
    name = " ".join(name.split()).replace("®", "").replace("™", "")
    name = _GLUED_BY.sub("", _LONG_PREFIX.sub("", name))
    name = _AUTHOR_PREFIX.sub("", name)
    if ":" in name.strip(" :"):
        name = name.rsplit(":", 1)[1]  # "دبي: محمد الكعبي": the dateline's city is no author
    elif name.strip().endswith(":"):
        return None  # a label or a dateline alone
    name = _TRAILING_MONTH.sub("", name.strip(" ,;|-–—:")).strip(" ,;|-–—:")
    return name or None


def split_authors(names: list[str]) -> list[str]:
    """Split joined bylines ("A and B", "A، B"), drop non-persons, deduplicate, keep order."""
    out: list[str] = []
    for raw in names:
        for part in re.split(r"\s*(?:;|،|,|\||\band\b|\bet\b|\bи\b|\s&\s|\sو\s?(?=\S))\s*", raw):
            name = clean_author(part)
            if (
                name
                and name not in out
                and not name.startswith("http")
                and not _NOT_A_PERSON.match(name)
                and not _CREDENTIALS.match(name)
                and not _is_role(name)
                # A name has a capital letter, in scripts that have them ("on" is no name).
                and (name != name.lower() or not re.search("[a-z]", name))
                and not re.search(r"\d", name)
                and len(name.split()) <= 6
            ):
                out.append(name)
    # "Matt CheckHead Winemaker" and "Matt Check": the name with its role glued on is the same
    # person printed twice.
    return [n for n in out if not any(o != n and " " in o and n.startswith(o) for o in out)]


def iso_date(value: str | None) -> str | None:
    """Normalize a machine-readable date to ISO 8601; keep the time zone when given."""
    if not value:
        return None
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        match = re.match(r"(\d{4})-(\d{2})-(\d{2})", value)
        return match.group(0) if match else None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value
    return parsed.isoformat()


def _meta(tree: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for el in tree.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        content = el.get("content")
        if key and content and content.strip():
            found.setdefault(key, []).append(_unescape(content.strip()))
    return found


def _tag(tags: dict[str, list[str]], *names: str) -> str | None:
    for name in names:
        if tags.get(name):
            return tags[name][0]
    return None


# Publication-date <meta> names beside Open Graph's, in the order they are trusted.
_DATE_META = (
    "article:published",
    "article.published",
    "published",
    "published_time",
    "publish-date",
    "publish_date",
    "publishdate",
    "publication_date",
    "date.published",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date",
    "dcterms.date",
    "date",
    "parsely-pub-date",
    "sailthru.date",
    "citation_publication_date",
    "citation_date",
)


def _reader_date(value: str | None) -> str | None:
    """Return the one date written for readers in a short value ("July 17, 2025"), else None."""
    from pipelines.dates import find_dates

    if not value or len(value) > 60:
        return None
    dates = find_dates(value)
    return dates[0].iso if len(dates) == 1 else None


def _publisher_name(article: dict[str, Any]) -> str | None:
    publisher = article.get("publisher")
    return _first_str(publisher.get("name")) if isinstance(publisher, dict) else None


def read_page_meta(tree: Any) -> PageMeta:
    """Collect the metadata a page declares from its parsed lxml tree."""
    meta = PageMeta()
    tags = _meta(tree)
    article: dict[str, Any] = {}
    by_id: dict[str, dict[str, Any]] = {}
    for script in tree.xpath('//script[contains(@type, "ld+json")]'):
        try:
            data = json.loads(script.text or "", strict=False)
        except (ValueError, RecursionError):
            continue
        for node in _json_ld_nodes(data):
            if isinstance(node.get("@id"), str) and len(node) > 1:
                by_id.setdefault(node["@id"], node)
            types = _types(node)
            meta.types.extend(t for t in types if t not in meta.types)
            if not article and ARTICLE_TYPES.intersection(types):
                article = node
    meta.og_type = _tag(tags, "og:type")
    if meta.og_type:
        meta.og_type = meta.og_type.lower()

    meta.title = _first_str(article.get("headline")) or _tag(tags, "og:title")
    meta.site_name = _tag(tags, "og:site_name") or _first_str(
        (article.get("publisher") or {}).get("name")
        if isinstance(article.get("publisher"), dict)
        else None
    )
    meta.description = _tag(tags, "og:description", "description")
    canonical = tree.xpath('//link[@rel="canonical"]/@href')
    meta.canonical_url = canonical[0].strip() if canonical else _tag(tags, "og:url")

    authors = _names(_resolve(article.get("author"), by_id))
    if not authors:
        authors = tags.get("author", []) + tags.get("article:author", [])
        authors = [a for a in authors if not a.startswith("http")]
    if not authors:
        # Twitter cards label their extra fields: twitter:label1 "Written by", twitter:data1.
        for n in range(1, 5):
            label = (_tag(tags, f"twitter:label{n}") or "").casefold()
            if label in ("written by", "author", "by") and _tag(tags, f"twitter:data{n}"):
                authors = [_tag(tags, f"twitter:data{n}") or ""]
                break
    # "Jane Roe, The Daily Courier": the publisher after the names is no author.
    meta.publisher = _publisher_name(article)
    outlets = {n.casefold() for n in (meta.site_name, meta.publisher) if n}
    meta.authors = split_authors(authors)
    people = [a for a in meta.authors if a.casefold() not in outlets]
    if people:
        meta.authors = people  # a page signed by its outlet alone keeps that signature

    for value, source in (
        (_first_str(article.get("datePublished")), "json-ld"),
        (_tag(tags, "article:published_time"), "meta"),
        (_tag(tags, "datepublished", "pubdate"), "meta"),
        ((tree.xpath("//time[@datetime]/@datetime") or [None])[0], "time"),
    ):
        date = iso_date(value)
        if date:
            meta.published, meta.published_source = date, source
            break
    if meta.published is None:
        # Other names CMSs give a publication date, often written for readers ("July 17, 2025").
        for name in _DATE_META:
            value = _tag(tags, name)
            date = iso_date(value) or _reader_date(value)
            if date:
                meta.published, meta.published_source = date, "meta"
                break
    meta.modified = iso_date(
        _first_str(article.get("dateModified"))
        or _tag(tags, "article:modified_time", "og:updated_time")
    )

    lang = tree.xpath("/html/@lang") or tree.xpath("//html/@lang")
    in_language = _first_str(article.get("inLanguage"))
    locale = _tag(tags, "og:locale")
    for candidate in (in_language, lang[0] if lang else None, locale):
        if candidate and re.match(r"^[A-Za-z]{2,3}([-_].*)?$", candidate.strip()):
            meta.language = re.split(r"[-_]", candidate.strip())[0].lower()
            break

    meta.image = _first_str(article.get("image")) or _tag(tags, "og:image")
    sections = _names(article.get("articleSection")) + tags.get("article:section", [])
    meta.categories = list(dict.fromkeys(sections))
    keywords = article.get("keywords")
    kw = keywords.split(",") if isinstance(keywords, str) else _names(keywords)
    kw += tags.get("article:tag", [])
    meta.tags = list(dict.fromkeys(k.strip() for k in kw if k.strip()))
    return meta


# C0 controls but tab, newline and carriage return, DEL, lone surrogates (from a str built
# elsewhere) and two non-characters: the HTML parser keeps them in text nodes, but lxml refuses
# to set such text again (drop_tree moves a tail), and no reader wants them. A form feed is a
# space.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_CLEAN_PARSER = lxml_html.HTMLParser(remove_comments=True, remove_pis=True)


def parse_html(text: str) -> Any:
    """Parse decoded HTML into an lxml tree (encoding declarations already handled).

    Comments and processing instructions are not kept: they are never article text, and a comment
    where code expects an element (``text_content()`` on it raises) must not fail a page. Any
    input gives a tree, an empty or comment-only page an empty ``<html><body>``.
    """
    # lxml refuses str input that still carries an XML encoding declaration.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text).replace("\x0c", " ")
    if _NOT_XML.search(text):
        text = _NOT_XML.sub("", text)
    try:
        tree = lxml_html.document_fromstring(text, parser=_CLEAN_PARSER)
    except etree.ParserError:  # nothing but whitespace, comments or PIs
        tree = lxml_html.document_fromstring("<html><body></body></html>")
    if tree.find("body") is None:
        # A frameset or head-only page: give the rest of the pipeline the body it looks for.
        etree.SubElement(tree, "body")
    body = tree.find("body")
    for stray in list(tree.itersiblings()):
        # Markup after a second <html> (templates that print a whole page into another) ends up
        # as a sibling of the root, where no one looks: the article can be there.
        if isinstance(stray.tag, str):
            inner = stray.find("body")
            for child in list(inner if inner is not None else stray):
                if child.tag != "head":
                    body.append(child)  # moved: the sibling is left empty
    return tree


@dataclass
class VisibleMeta:
    """Byline and date as printed near the headline, for pages that declare neither."""

    authors: list[str] = field(default_factory=list)
    published: str | None = None
    modified: str | None = None  # an "Updated …" date printed there
    headline: str | None = None
    logo: str | None = None  # a heading that only links home: the site's name


def _home_link(el: Any) -> bool:
    """Tell whether a heading is the site's logo: all of its text is one link to a home page."""
    links = el.findall(".//a")
    if len(links) != 1:
        return False
    href = (links[0].get("href") or "").strip()
    if not href or " ".join(links[0].text_content().split()) != " ".join(el.text_content().split()):
        return False
    parts = urlsplit(href)
    return parts.path in ("", "/") and not parts.query and not parts.fragment


_OVERLAY_MARK = re.compile(r"modal|overlay|popup|dialog|subscribe", re.IGNORECASE)


def _off_article(el: Any) -> bool:
    """Tell whether a heading sits in the page's chrome: header, footer, menus, a dialog."""
    if is_elsewhere(el):
        return True
    for anc in el.iterancestors():
        if anc.tag in ("header", "dialog", "form", "nav", "footer"):
            # An article's own <header> holds its headline: only the page's header is chrome.
            return not any(a.tag in ("article", "main") for a in anc.iterancestors())
        if _OVERLAY_MARK.search((anc.get("class") or "") + " " + (anc.get("id") or "")):
            return True
    return False


_NEAR_HEADLINE = 60  # elements after the <h1> where bylines and dates are printed
_SHORT = 160  # characters: a byline or date line, not prose


def _headline(body: Any, title: str | None) -> Any:
    """Return the headline element: the <h1> (or h2) closest to the title, else the longest <h1>."""
    key = " ".join((title or "").split()).casefold()
    best, best_score, longest, longest_inside = None, 0.3, None, None
    for el in body.iter("h1", "h2", "h3"):
        text = " ".join(el.text_content().split()).casefold()
        if not text or _home_link(el):
            continue
        if key and (text in key or key in text):
            # "Site | Headline" titles contain the logo's <h1> too: the longer share wins.
            score = min(len(text), len(key)) / max(len(text), len(key))
            if score > best_score:
                best, best_score = el, score
        if el.tag == "h1" and (longest is None or len(text) > len(longest.text_content())):
            longest = el
        if (
            el.tag == "h1"
            and (longest_inside is None or len(text) > len(longest_inside.text_content()))
            and not _off_article(el)
        ):
            longest_inside = el
    # With no match, the longest <h1> is the headline: one outside the menus, footer and
    # dialogs ("Subscribe to …", a copyright line) when there is one.
    if best is not None or longest is not None:
        if best is not None:
            return best
        return longest_inside if longest_inside is not None else longest
    # No heading at all (page builders style a <p> or <div>): the element that prints the
    # declared title by itself is the headline.
    if key:
        for el in body.iter():
            if (
                el.text
                and len(el) == 0
                and isinstance(el.tag, str)
                and el.tag not in ("title", "script", "style")
                and " ".join(el.text.split()).casefold() == key
            ):
                return el
    return None


def _heading_text(el: Any) -> str:
    """Return a heading's text with a space where a ``<br>`` breaks it ("2025 (US)<br>Your")."""
    parts: list[str] = []
    for event, node in etree.iterwalk(el, events=("start", "end")):
        if event == "start":
            parts.append(" " if node.tag == "br" else (node.text or ""))
        elif node is not el:
            parts.append(node.tail or "")
    return " ".join("".join(parts).split())


def _after_headline(
    tree: Any, title: str | None, *, past_standfirst: bool = False
) -> tuple[Any, list[Any]]:
    """Return the headline element and the elements printed after it, before the article text.

    With ``past_standfirst``, the window goes on past one long paragraph (a standfirst or first
    paragraph): dates are printed there too, bylines rarely.
    """
    body = tree.find("body")
    h1 = _headline(body, title) if body is not None else None
    if h1 is None:
        return None, []
    inside = set(h1.iter())
    out = []
    seen = False
    long_paragraphs = 0
    for el in body.iter():
        if el is h1:
            seen = True
        elif seen and el not in inside and isinstance(el.tag, str):
            if el.tag == "p" and len(el.text_content()) > 200:
                long_paragraphs += 1
                if long_paragraphs > int(past_standfirst):
                    break  # the article text has started (the first may be a standfirst)
            out.append(el)
            if len(out) >= _NEAR_HEADLINE:
                break
    return h1, out


_AUTHOR_HREF = re.compile(
    r"/(authors?|writers?|journalists?|people|profiles?|staff|contributors?|by|kuttab|columnists?)"
    r"(/|$|\?|-)|[?&]author=",
    re.IGNORECASE,
)
_NOT_A_NAME = re.compile(
    r"\b(article|republish|share|follow|subscribe|e-?mail|print|comments?|newsletter|more)\b",
    re.IGNORECASE,
)


_NOT_WRITER = re.compile(
    r"\b(fact[- ]?checked|(medically |expert )?reviewed|edited|verified|illustrated)\s+by\b"
    r"|\bمراجعة\b|\brelu par\b|\brevisado por\b",
    re.IGNORECASE,
)


def _byline_names(el: Any, text: str) -> list[str]:
    # Names marked up one by one (class "byline__name", "author-name") are the clearest.
    marked = [
        " ".join(n.text_content().split())
        for n in el.iterdescendants()
        if re.search(r"(byline|author)[-_]*name", n.get("class") or "")
    ]
    if marked:
        return split_authors(marked)
    # Names after "Reviewed by", "Fact-checked by", "Edited by" are not the authors'.
    spaced = _spaced_text(el)
    marker = _NOT_WRITER.search(spaced)
    cut = marker.start() if marker else len(spaced)
    links = [
        (" ".join(a.text_content().split()), a.get("href") or "", a.get("rel") or "")
        for a in el.iter("a")
    ]
    links = [link for link in links if spaced.find(link[0]) < cut]
    links = [
        (t, href, rel)
        for t, href, rel in links
        if t and not _AUTHOR_PREFIX.match(t + " ") and not _NOT_A_NAME.search(t)
    ]
    # Bylines also link sections and actions: when some links go to author pages, only those.
    authorish = [t for t, href, rel in links if "author" in rel or _AUTHOR_HREF.search(href)]
    anchors = authorish or [t for t, _, _ in links]
    if anchors:
        return split_authors(anchors)
    rest = _AUTHOR_PREFIX.sub("", text[: marker.start()] if marker else text, count=1)
    # The name ends where the date, a separator or a second field begins.
    rest = re.split(r"\s[|•·]\s|\s[-–—]\s|\d|[|•·]|\s{2,}", rest)[0]
    return split_authors([rest])


def _marks(el: Any) -> str:
    """Return what an element's markup says it is: rel, itemprop, class and data-* values."""
    values = [el.get("rel") or "", el.get("itemprop") or "", el.get("class") or ""]
    # Component frameworks name the part in data attributes ("post-author-21", "author-card").
    values.extend(
        v for k, v in el.attrib.items() if k.startswith("data-") and len(v) < 40 and " " not in v
    )
    return " ".join(values)


_CAMEL_HUMP = re.compile(r"(?<=[a-z])(?=[A-Z])")
_AUTHOR_ABOUT = re.compile(r"author[-_]*(desc|bio|about|title|role|job)|(desc|bio)[-_]*author")
# An icon font's person glyph before a name marks a byline ("<i class='bi bi-person'>").
_PERSON_ICON = re.compile(r"\b(bi|fa[srlb]?|icon|glyphicon|dashicons)-(person|user|author)\b")


def _is_author_element(el: Any) -> bool:
    """Tell whether an element is marked as the author's name and holds only a name."""
    # CSS-module names are camelCase ("styles_dateAndAuthorContainer"): split at the humps.
    marks = _CAMEL_HUMP.sub("-", _marks(el)).lower()
    if not re.search(r"\bauthor\b|author[-_]*name|byline|\bvcard\b", marks) and not any(
        isinstance(c.tag, str) and _PERSON_ICON.search(c.get("class") or "") for c in el[:1]
    ):
        return False
    if _AUTHOR_ABOUT.search(marks):
        return False  # "author-description", "author-bio": what the author does, not who
    links = list(el.iter("a"))
    to_author = any(_to_author_page(a) for a in links)
    dated = _dated_name(el)
    if dated != " ".join(el.text_content().split()) and not to_author:
        return True  # a name beside the date, and no link to an author page
    if links:
        # A byline with links names its authors in the links to author pages, or in its one link.
        return to_author or (
            len(links) == 1
            and _name_like(" ".join(links[0].text_content().split()))
            and not is_elsewhere(el)
        )
    return 0 < len(dated.split()) <= 5


def _to_author_page(a: Any) -> bool:
    """Tell whether a link goes to an author's page (``rel="author"``, ``/author/jo-roe``)."""
    return "author" in (a.get("rel") or "") or bool(_AUTHOR_HREF.search(a.get("href") or ""))


_ON_BEHALF = re.compile(r"\s+(?:on behalf of|for)\s+.*$", re.IGNORECASE)


def _dated_name(el: Any) -> str:
    """Return the name in a byline element that also prints the date ("Dec 19, 2025 · Jo Roe").

    The date goes, and so does what the name writes on behalf of ("… on behalf of the docs
    team"); an element without a date is returned as it is.
    """
    from pipelines.dates import find_dates

    text = " ".join(el.text_content().split())
    dates = find_dates(text)
    if not dates:
        return text
    rest = text
    for d in reversed(dates):
        rest = f"{rest[: d.start]} | {rest[d.end :]}"
    parts = [p.strip() for p in re.split(r"[|·•]|\s[-–—]\s", rest)]
    names = [_ON_BEHALF.sub("", p) for p in parts if p and any(c.isalpha() for c in p)]
    names = [n for n in names if _name_like(n) and not _DATELINE_WORD.search(n)]
    return names[0] if len(names) == 1 else text


# Words of the date line itself ("Fact Checked", "Updated", "5 min read"), never of a name.
_DATELINE_WORD = re.compile(
    r"\b(checked|reviewed|edited|updated|published|posted|written|read|min|minutes?)\b", re.I
)


def _printed_names(el: Any, text: str) -> list[str]:
    """Return the names an author-marked element prints, dated or not, linked or not."""
    if any(_to_author_page(a) for a in el.iter("a")):
        return _byline_names(el, text)  # links to author pages name the authors
    dated = _dated_name(el)
    if dated != " ".join(el.text_content().split()):
        # "Dec 19, 2025 · Jo Roe on behalf of <a>the docs team</a>": the link is not the name.
        return split_authors([dated])
    if el.find(".//a") is not None:
        return _byline_names(el, text)
    return split_authors([_without_roles(el)])


_STANDFIRST_REACH = 8  # elements after the headline where a standfirst can be
_STANDFIRST = re.compile(
    r"standfirst|\bdek\b|\bdeck\b|sub-?title|subheadline|sub-headline|\bsummary|excerpt|teaser"
    r"|lead-in|article-description|headline__sub",
    re.IGNORECASE,
)


def standfirst_elements(tree: Any, title: str | None = None) -> list[Any]:
    """Return the standfirst (dek) printed between the headline and the article's text.

    It sums the story up for the front page; it is not part of the article text.
    """
    _headline_el, following = _after_headline(tree, title)
    # Right under the headline, and only one: further down, "subtitle" is a sub-heading.
    for el in following[:_STANDFIRST_REACH]:
        marks = f"{el.get('class') or ''} {el.get('data-testid') or ''} {el.get('itemprop') or ''}"
        if _STANDFIRST.search(marks) and 0 < len(el.text_content()) <= 400:
            return [el]
    return []


def _without_roles(el: Any) -> str:
    """Return a byline's text without the job titles marked inside it ("Staff writer")."""
    while len(el) == 1 and not (el.text or "").strip() and not (el[0].tail or "").strip():
        el = el[0]  # wrappers around the byline's blocks
    texts = [_spaced_text(c) for c in el if isinstance(c.tag, str)]
    texts = [t for t in texts if t]
    if not (el.text or "").strip() and len(texts) >= 2 and _name_like(texts[0]):
        # Name, role and date in blocks of their own: the first block is the name.
        return texts[0]
    parts = [el.text or ""]
    for child in el:
        if not re.search(r"title|role|position|job|bio", child.get("class") or "", re.I):
            parts.append(_spaced_text(child))
        parts.append(child.tail or "")
    return " ".join(" ".join(parts).split())


def _portrait_name(el: Any, text: str) -> str | None:
    """Return the name printed beside a portrait whose file is named after it, or None.

    "<img src='…/Julia-Gralberg-2.jpg'> Julia Gralberg": the photo's file name spells the
    printed name, so the line is the author's, though nothing in its markup says so.
    """
    if not _name_like(text) or len(text) > 60:
        return None
    want = [w.casefold() for w in re.findall(r"[^\W\d_]+", text)]
    for img in el.iter("img"):
        stem = (img.get("src") or "").rsplit("/", 1)[-1].rsplit(".", 1)[0]
        words = [w.casefold() for w in re.findall(r"[^\W\d_]+", stem)]
        if words[: len(want)] == want:
            return text
    return None


def _spaced_text(el: Any) -> str:
    """Return an element's text with a space between the texts of its elements.

    Bylines print name, role and date in adjacent elements with no space between them
    ("Kendall Breitman</span><span>Social Media"): text_content() would glue them.
    """
    return " ".join(" ".join(el.itertext()).split())


def _names_after_prefix(text: str) -> bool:
    """Tell whether text is a byline prefix followed by something ("By Jane Roe", not "By")."""
    text = " ".join(text.split())
    return bool(_AUTHOR_PREFIX.match(text)) and bool(_AUTHOR_PREFIX.sub("", text, count=1).strip())


def read_visible_meta(tree: Any, title: str | None = None) -> VisibleMeta:
    """Read the byline and publication date printed just after the headline.

    Args:
        tree: The parsed page.
        title: The headline as the page declares it (og:title, JSON-LD or <title>), to find
            the headline element among several <h1>.

    """
    from pipelines.dates import find_dates

    found = VisibleMeta()
    if title is None:
        title = (tree.findtext(".//title") or "").strip() or None
    headline, following = _after_headline(tree, title, past_standfirst=True)
    if headline is not None:
        found.headline = _unescape(_heading_text(headline)) or None
    if (body := tree.find("body")) is not None:
        logo = next((h for h in body.iter("h1") if _home_link(h)), None)
        if logo is not None:
            found.logo = " ".join(logo.text_content().split()) or None
    long_paragraphs = 0
    for el in following:
        if el.tag == "p" and len(el.text_content()) > 200:
            long_paragraphs += 1
        text = _spaced_text(el)
        if not text or len(text) > _SHORT:
            continue
        # Past the first paragraph a date may still be printed, a byline seldom.
        byline_zone = not long_paragraphs and not found.authors
        if byline_zone and _AUTHOR_PREFIX.match(text):
            # The innermost element with the byline is the cleanest (no date after the names).
            inner = [
                d
                for d in el.iterdescendants()
                if isinstance(d.tag, str) and _names_after_prefix(d.text_content())
            ]
            target = inner[-1] if inner else el
            found.authors = _byline_names(target, _spaced_text(target))
        elif byline_zone and _is_author_element(el):
            found.authors = _printed_names(el, text)
        elif byline_zone and (portrait := _portrait_name(el, text)):
            found.authors = [portrait]
        if found.published is None or found.modified is None:
            dates = find_dates(text)
            first = [d for d in dates if not d.updated]
            if first and found.published is None:
                found.published = first[0].iso
            updated = [d for d in dates if d.updated]
            if updated and found.modified is None:
                found.modified = updated[0].iso
        if found.authors and found.published:
            break
    if found.published is None and headline is not None:
        # A date line above the headline, with the kicker ("Dec 12, 2025 · 6 min read").
        for el in _before(headline, _NEAR_HEADLINE_BEFORE):
            text = " ".join(el.text_content().split())
            dates = [d for d in find_dates(text) if not d.updated] if len(text) <= _SHORT else []
            if dates:
                found.published = dates[0].iso
                break
    if not found.authors and (body := tree.find("body")) is not None:
        found.authors = _marked_authors(body) or _labelled_authors(body)
        if found.authors:
            # An author box far from the headline may be the reviewer's, named as such elsewhere.
            reviewers = _reviewers(body)
            found.authors = [a for a in found.authors if a.casefold() not in reviewers]
    return found


_REVIEWER = re.compile(
    r"\b(?:fact[- ]?checked|(?:medically |expert )?reviewed|edited|verified)\s+by:?\s+"
    r"([^\W\d_][\w.'’-]*(?:\s+[^\W\d_][\w.'’-]*){1,3})",
    re.IGNORECASE,
)


def _reviewers(body: Any) -> set[str]:
    """Return the folded names the page prints as its reviewers, fact-checkers or editors."""
    names: set[str] = set()
    for el in body.iter():
        if not isinstance(el.tag, str) or el.tag in ("script", "style"):
            continue
        for text in (el.text, el.tail):
            if text and len(text) < 200 and (m := _REVIEWER.search(" ".join(text.split()))):
                names.update(n.casefold() for n in split_authors([m.group(1)]))
    return names


# A byline label printed in an element of its own, the name in the next one ("Written by" /
# "Edzel Tabing"); or the whole byline, with a prefix no sentence starts with.
_BYLINE_LABEL = re.compile(
    r"^(by|written by|authored by|posted by|article by|words by|author|authors|written by:"
    r"|contributors?"
    r"|بقلم|كتب|كتبت|تأليف|par|écrit par|por|escrito por|von|autor|автор)\s*[:：]?$",
    re.IGNORECASE,
)
_BYLINE_ANYWHERE = re.compile(
    r"^((written|authored|posted) by\s+|contributors?\s*:\s*)\S", re.IGNORECASE
)


_CONTRIBUTORS = re.compile(r"^contributors?\s*:\s*", re.IGNORECASE)
_BYLINE_END = re.compile(r"\s+(?:on|in|at|\||·|—|–)\s+")


def _labelled_authors(body: Any) -> list[str]:
    """Return the names of a byline printed as a label and a name, anywhere but in comments."""
    for el in body.iter():
        if not isinstance(el.tag, str) or el.tag in ("script", "style", "a"):
            continue
        own = " ".join((el.text or "").split())
        if not own or len(own) > 80:
            continue
        name = None
        if _BYLINE_LABEL.match(own):
            # "Written by <span>Name</span>", or the label alone and the name after it.
            first = el[0] if len(el) else None
            name = (
                _spaced_text(first)
                if first is not None and isinstance(first.tag, str) and first.tag != "br"
                else _next_text(el)
            )
        elif _BYLINE_ANYWHERE.match(own):
            text = _CONTRIBUTORS.sub("", " ".join(el.text_content().split()))
            # "Posted by Name on 2025-12-18 in Section": the name ends where the date begins.
            name = _BYLINE_END.split(text, 1)[0] if len(text) <= 120 else None
        if not name or is_elsewhere(el, article_footer=True):
            continue
        names = split_authors([name])
        if names and all(_name_like(n) or len(n.split()) == 1 for n in names):
            return names
    return []


def _next_text(el: Any) -> str | None:
    """Return the text printed right after ``el``: its tail, or the next element's text."""
    tail = " ".join((el.tail or "").split())
    if tail:
        return tail
    node = el
    for _ in range(3):
        nxt = node.getnext()
        if nxt is not None:
            text = " ".join(nxt.text_content().split()) if isinstance(nxt.tag, str) else ""
            return text if 0 < len(text) <= 80 else None
        node = node.getparent()
        if node is None:
            return None
    return None


_NEAR_HEADLINE_BEFORE = 12  # elements before the headline where a date line may sit


def _before(el: Any, limit: int) -> list[Any]:
    """Return up to ``limit`` elements that precede ``el`` in document order, nearest first."""
    out: list[Any] = []
    for prev in el.itersiblings(preceding=True):
        if prev.tag in ("header", "nav", "aside", "form") or _ELSEWHERE.search(
            f"{prev.get('class') or ''} {prev.get('id') or ''}"
        ):
            continue  # the site's header prints today's date, not the article's
        # Reversed document order: the nearest text first.
        out.extend(reversed([n for n in prev.iter() if isinstance(n.tag, str)]))
        if len(out) >= limit:
            return out[:limit]
    parent = el.getparent()
    if parent is not None and parent.tag not in ("body", "html") and len(out) < limit:
        out.extend(_before(parent, limit - len(out)))
    return out[:limit]


_AUTHOR_MARK = re.compile(r"author|byline", re.IGNORECASE)
_NOT_BYLINE_MARK = re.compile(r"bio|desc|about|avatar|image|photo|comment|related", re.IGNORECASE)


_ELSEWHERE = re.compile(
    r"comment|related|recommend|sidebar|widget|footer|popular|trending|latest|more-|-more|newsletter"
    r"|\bnav|menu|respon|reply|discuss",
    re.IGNORECASE,
)


def is_elsewhere(el: Any, *, article_footer: bool = False) -> bool:
    """Tell whether an element sits in comments, a sidebar, a footer or a box of other posts.

    With ``article_footer``, the footer of an ``<article>`` (where "Posted by … on …" is
    printed) does not count as the page's footer.
    """
    for depth, anc in enumerate(el.iterancestors()):
        if depth > 12 or anc.tag in ("body", "article", "main"):
            return anc.tag == "footer"
        if (
            article_footer
            and anc.tag == "footer"
            and not _ELSEWHERE.search(_role_marks(anc))
            and any(a.tag == "article" for a in anc.iterancestors())
        ):
            continue
        if anc.tag in ("footer", "nav", "aside") or _ELSEWHERE.search(_role_marks(anc)):
            return True
    return False


def _role_marks(el: Any) -> str:
    """Return an element's class and id, without utility classes that only place it.

    "md:[grid-area:sidebar]" or "lg:more-gap" say where a column goes on a wide screen (Tailwind
    and its kin), not that it is a sidebar.
    """
    classes = [c for c in (el.get("class") or "").split() if ":" not in c and "[" not in c]
    # Page builders call every block a widget ("builder-widget-container"): only a class that
    # starts with the word ("widget", "widget_recent_entries") marks a sidebar's widget.
    classes = [
        c
        for c in classes
        if "widget" not in c.casefold()
        or (c.casefold().startswith("widget") and not _WIDGET_WRAPPER.match(c))
    ]
    return " ".join([*classes, el.get("id") or ""])


_WIDGET_WRAPPER = re.compile(r"widget[-_](container|wrap|inner)", re.IGNORECASE)


# Words a name never starts with, though a link's text may ("On Bluesky", "Follow Jane").
_NOT_NAME_START = frozenset(
    ["on", "in", "at", "for", "from", "with", "to", "of", "via", "about", "follow", "share"]
)


def _name_like(text: str) -> bool:
    words = text.split()
    return (
        2 <= len(words) <= 4
        and all(w[:1].isupper() for w in words if w[:1].isalpha())
        and words[0].casefold() not in _NOT_NAME_START
    )


def choose_authors(printed: list[str], declared: list[str], outlets: set[str]) -> list[str]:
    """Return the byline printed on the page, or the authors the markup declares.

    The printed byline often names more authors than the markup and wins when the two agree in
    part. When they name no one in common, the markup wins if it names people while the
    printed "byline" does not (a section title, "Fact checked by …", a first name alone),
    unless the markup names only the outlet (``outlets``: site and publisher names, folded).
    """
    # "Emily Cadloff, Modern Farmer": the outlet after the people is no author.
    people = [n for n in printed if n.casefold() not in outlets]
    printed = people or printed
    if not printed or not declared:
        return printed or declared
    low_printed = [n.casefold() for n in printed]
    low_declared = [n.casefold() for n in declared]
    if any(a in b or b in a for a in low_printed for b in low_declared):
        # "Kendall BreitmanSocial Media": a role glued on in print; the markup has the name.
        return [
            next(
                (
                    d
                    for d in declared
                    if low.startswith(d.casefold())
                    and len(name) > len(d)
                    and (name[len(d)] == " " or name[len(d)].isupper())
                ),
                name,
            )
            for name, low in zip(printed, low_printed, strict=True)
        ]
    if any(n in outlets for n in low_declared):
        return printed
    if all(_name_like(n) for n in declared) and not all(_name_like(n) for n in printed):
        return declared
    return printed


def _marked_authors(body: Any) -> list[str]:
    """Return the names in the first element marked as an author's name anywhere on the page.

    Templates print the byline far from the headline (above it, or in a box after the text):
    an element whose class or ``rel``/``itemprop`` says author, a link to an author page, or
    the portrait of an author box (its ``alt`` text).
    """
    for el in body.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag == "a" and _AUTHOR_HREF.search(el.get("href") or ""):
            name = clean_author(" ".join(el.text_content().split()))
            if (
                name
                and _name_like(name)
                and split_authors([name])
                and not is_elsewhere(el, article_footer=True)
            ):
                return split_authors([name])
        if el.tag == "img" and el.get("alt"):
            parent = el.getparent()
            box = " ".join(
                (a.get("class") or "")
                for a in (parent, parent.getparent() if parent is not None else None)
                if a is not None
            )
            alt = clean_author(el.get("alt") or "")
            if (
                _AUTHOR_MARK.search(box)
                and alt
                and _name_like(alt)
                and split_authors([alt])
                and not is_elsewhere(el, article_footer=True)
            ):
                return split_authors([alt])
        marks = _marks(el)
        if not marks.strip() or not _AUTHOR_MARK.search(marks):
            continue
        if _AUTHOR_ABOUT.search(_CAMEL_HUMP.sub("-", marks).lower()):
            # An author box: the name is printed right before the description of the author.
            before = el.getprevious()
            name = " ".join(before.text_content().split()) if before is not None else ""
            names = split_authors([name]) if _name_like(name) else []
            if names and not is_elsewhere(el, article_footer=True):
                return names
            continue
        if _NOT_BYLINE_MARK.search(marks):
            continue
        if not _is_author_element(el) or is_elsewhere(el, article_footer=True):
            continue
        text = " ".join(el.text_content().split())
        if not text or len(text) > _SHORT:
            continue
        names = _printed_names(el, text)
        if names:
            return names
    return []
