"""Turn one HTML page into an article record: decode, read metadata, clean, run trafilatura."""

from __future__ import annotations

import copy
import hashlib
import logging
import re
from collections.abc import Callable
from functools import cache
from typing import Any

import ftfy
import trafilatura
from trafilatura.settings import Extractor, set_date_params

from pipelines import __version__
from pipelines.charset import decode_html
from pipelines.cleaning import (
    CleanReport,
    remove_boilerplate,
    remove_related_links,
    shield_prose,
    unmark_stub_frames,
    unmark_wrapping_comments,
    unwrap_layout_tables,
    wrap_loose_text,
)
from pipelines.metadata import (
    PageMeta,
    VisibleMeta,
    choose_authors,
    is_elsewhere,
    iso_date,
    parse_html,
    read_page_meta,
    read_visible_meta,
    split_authors,
    standfirst_elements,
)
from pipelines.reveal import open_collapsed_panels, resolve_streamed_segments

logger = logging.getLogger(__name__)

_TITLE_SEPARATORS = re.compile(r"\s+[|\-–—:•·»]\s+|\s+::\s+")


@cache
def extractor_options() -> Extractor:
    """Return the trafilatura options, built once per process.

    Comments are off: on news pages they are other people's words, not the article.
    """
    return Extractor(
        output_format="python",
        with_metadata=True,
        comments=False,
        tables=True,
        links=False,
        images=False,
        formatting=False,
    )


def extractor_info() -> dict[str, str]:
    """Name and versions of the extraction software, for every record."""
    return {"name": "trafilatura", "version": trafilatura.__version__, "newswarc": __version__}


def _strip_site_suffix(title: str | None, site_name: str | None) -> str | None:
    if not title:
        return None
    title = " ".join(title.split())
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) > 1:
        site = (site_name or "").casefold()
        for candidate in (parts[-1], parts[0]):
            c = candidate.casefold()
            if site and (c in site or site in c):
                kept = parts[:-1] if candidate is parts[-1] else parts[1:]
                joined = " - ".join(kept) if candidate is parts[0] else None
                title = joined or title[: title.rfind(candidate)].rstrip(" |-–—:•·»")
                break
    return title or None


_WORD = re.compile(r"\w+")
_SEPARATOR_CHARS = " |-–—:•·»"


def _strip_logo(title: str, logo: str) -> str:
    """Return ``title`` without the site's name (the logo's text) before or after a separator."""
    low, name = title.casefold(), logo.casefold()
    if low.startswith(name):
        rest = title[len(logo) :]
    elif low.endswith(name):
        rest = title[: -len(logo)]
    else:
        return title
    # Only at a separator: "Quiet Notes: Week two", never "Quiet Notesbook".
    if not rest or (rest[:1] not in _SEPARATOR_CHARS and rest[-1:] not in _SEPARATOR_CHARS):
        return title
    return rest.strip(_SEPARATOR_CHARS) or title


_LEADING_ARTICLE = re.compile(r"^(the|a|an)$", re.IGNORECASE)
_DATELINE_WORDS = re.compile(r"\b(posted|published|updated|by)\b", re.IGNORECASE)


def _noise_around(printed: str, low_declared: str) -> bool:
    """Tell whether a printed headline is the declared title plus noise, not plus a subtitle.

    Noise is a date or "Posted … by", the site's name after a separator ("– Artlyst",
    "/ Dec 2025"), a section label before a colon ("Blog: "), or a bare article ("The ").
    Words that go on the sentence ("… to Prevent Issues", ": Room-by-Room Breakdown") are the
    headline's own.
    """
    from pipelines.dates import find_dates

    start = printed.casefold().find(low_declared)
    before = printed[:start].strip()
    after = printed[start + len(low_declared) :].strip()
    for part, sep_side in ((before, "end"), (after, "start")):
        if not part:
            continue
        if find_dates(part) or _DATELINE_WORDS.search(part) or _LEADING_ARTICLE.match(part):
            continue
        edge = part[-1] if sep_side == "end" else part[0]
        if edge in "|–—/·•»-" or (sep_side == "end" and edge in ":："):
            continue
        return False
    return True


def _choose_title(
    declared: str | None, printed: str | None, site_name: str | None, *, own: bool = True
) -> str | None:
    """Return the headline as printed on the page, else the declared title.

    The ``<h1>`` is what readers see; declared titles are often rewritten for search engines
    ("Best X of 2025 [Tried 11]"). A printed headline that is only the site's name, or that holds
    the whole declared title and more (a date, "Posted by …"), yields to the declared one, and
    so does one with no word in common with the title the page declares itself (``own``: not
    trafilatura's guess, which may be that very heading).
    """
    if not printed or len(printed) > 300:
        return declared
    if not declared:
        return printed
    low_printed, low_declared = printed.casefold(), declared.casefold()
    if low_declared in low_printed and low_declared != low_printed:
        return declared if _noise_around(printed, low_declared) else printed
    if site_name and low_printed == site_name.casefold():
        return declared
    if (
        own
        and low_declared != (site_name or "").casefold()
        and not set(_WORD.findall(low_printed)) & set(_WORD.findall(low_declared))
    ):
        # Not one word in common: the <h1> found is some other heading (a widget's, a gist's
        # file name), not this page's headline.
        return declared
    if printed.isupper() and not declared.isupper():
        # Set in capitals by the template (a banner, a CSS-free upper-case h1): the declared
        # title says the same in the case it was written.
        return declared
    head, bar, tail = printed.partition(" | ")
    if bar and len(head) >= len(tail) and "|" not in tail:
        # "Headline | Opinion", "Headline | Brand": a section or brand label after a bar.
        return head
    return printed


_RIGHTS = re.compile(
    r"^(©|\(c\)|copyright\b|all rights reserved|this (work|article|story|post) is licensed under\b"
    r"|جميع الحقوق محفوظة|حقوق النشر|tous droits réservés"
    r"|все права защищены)",
    re.IGNORECASE,
)


_MOJIBAKE_HINT = re.compile("[\u00c2-\u00df][\u0080-\u00bf]|\u00e2\u20ac")
_AD_LABELS = frozenset(
    {
        "advertisement",
        "advertising",
        "sponsored",
        "إعلان",
        "اعلان",
        "publicité",
        "реклама",
        "تبلیغات",
    }
)


def _body_lines(text: str, *headlines: str | None, tree: Any = None) -> list[str]:
    """Return the article's lines without the headline, what precedes it, and rights notices.

    With ``tree``, a paragraph before a line that repeats the headline stays, and so does that
    line, when the page prints the headline again as a sub-heading (h2-h6): the paragraph is
    the article's intro and the line its first sub-heading.
    """
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    keys = {" ".join(h.split()).casefold() for h in headlines if h}
    # The headline (and a kicker or breadcrumb above it) is not body text: it has its field.
    for i, line in enumerate(lines[:3]):
        if line.casefold() in keys:
            if (
                tree is not None
                and any(len(b) >= 100 for b in lines[:i])
                and _printed_as_subheading(tree, line.casefold())
            ):
                break  # intro, then the headline again as the story's first sub-heading
            lines = lines[i + 1 :]
            break
    # Trafilatura writes list items as "- item" and table rows as "| a | b |": keep the text,
    # cells apart by tabs, and no "|---|" rule lines.
    lines = [line[2:] if line.startswith("- ") else line for line in lines]
    lines = [
        "\t".join(cell.strip() for cell in line.strip("|").split("|"))
        if line.startswith("|") and line.endswith("|")
        else line
        for line in lines
        if not re.fullmatch(r"\|?(\s*:?-{3,}:?\s*\|)+\s*", line)
    ]
    lines = _without_tail(lines)
    lines = [_SIGN_UP_SENTENCE.sub("", line) for line in lines if not _is_chrome_line(line)]
    # A closing line about the author ("Jane Roe is a contributing writer at …") is a bio; one
    # asking to like, share or subscribe is a call to action.
    while (
        lines and len(lines[-1]) < 400 and (_BIO.match(lines[-1]) or _CLOSING_ASK.search(lines[-1]))
    ):
        lines.pop()
    return lines


_BYLINE_LINE = re.compile(
    r"((published|updated|posted|last updated)( on| at)?|by|written by|author|authors"
    r"|\d+\s*min(ute)?s?\.?"
    r"( read)?|reading time:?( \d+ min(ute)?s?\.?)?|read time:?( \d+ min(ute)?s?\.?)?)[:.]?",
    re.IGNORECASE,
)
_BYLINE_REACH = 6  # first lines of the text where the byline block can stand


def _without_byline(lines: list[str], authors: list[str]) -> list[str]:
    """Drop the byline block trafilatura left at the text's start: labels, dates, names, role.

    Only short lines that are a known author's name, a date, or a label ("Published",
    "3 min read"), and one short role line right after a name ("Product Analytics Expert"),
    in the first lines; the first line of another kind ends the block.
    """
    from pipelines.dates import find_dates

    names = {a.casefold() for a in authors}
    cut, after_name = 0, False
    for i, line in enumerate(lines[:_BYLINE_REACH]):
        if len(line) > 60:
            break
        low = line.casefold().removeprefix("by ").strip()
        dates = find_dates(line)
        if low in names:
            cut, after_name = i + 1, True
            continue
        if _BYLINE_LINE.fullmatch(line) or (
            dates and sum(d.end - d.start for d in dates) >= 0.6 * len(line)
        ):
            cut, after_name = i + 1, False
            continue
        if (
            after_name
            and len(line.split()) <= 4
            and not line.isupper()
            and all(w[:1].isupper() or not w[:1].isalpha() for w in line.split())
            and not line.rstrip().endswith((".", "?", "!", ":"))
        ):
            cut, after_name = i + 1, False
            continue
        break
    return lines[cut:] if cut and cut < len(lines) else lines


def _without_second_copy(lines: list[str], title: str | None) -> list[str]:
    """Cut a second copy of the article printed after it (a mobile or print version).

    The copy starts, in the text's second half, with the first two lines again (the first
    a sentence or longer), after the headline if it prints one.
    """
    if len(lines) < 6 or len(lines[0]) < 60:
        return lines
    for k in range(len(lines) // 2, len(lines) - 1):
        if lines[k] == lines[0] and lines[k + 1] == lines[1]:
            headline = bool(title) and lines[k - 1].casefold() == (title or "").casefold()
            return lines[: k - 1 if headline else k]
    return lines


def _printed_as_subheading(tree: Any, key: str) -> bool:
    return any(
        " ".join(h.text_content().split()).casefold() == key
        for h in tree.iter("h2", "h3", "h4", "h5", "h6")
    )


# A label that heads a list of other posts: "Recent posts:", "You might also like", "Read next".
_MORE_LABEL = re.compile(
    r"^((browse |see |view )?(related|similar|recommended|more) (articles|posts|stories|reads)"
    r"|(recent|latest|popular|trending|most read) (posts|articles|stories|news)"
    r"|(if you (liked|enjoyed) this( post| article)?,? )?you (may|might|will) (also )?(like|enjoy)"
    r"|read (this )?(next|also)|more (from|like this|on this topic)\b.{0,40}"
    r"|(explore|discover) more( (articles|posts|stories|guides|resources)| from\b.{1,40})?"
    r"|keep reading|further reading from us)\s*[:.!]?$",
    re.IGNORECASE,
)
_TAIL_START = 0.5  # share of the text before which a label is not the article's end


def _without_tail(lines: list[str]) -> list[str]:
    """Cut a list of other posts at the article's end, from its label on.

    The label stands in the text's second half and heads headlines or teasers; one heading a
    menu of one- or two-word sections ("Latest News" / "World") is the site's, left in place.
    """
    total = sum(len(line) for line in lines)
    seen = 0
    for i, line in enumerate(lines):
        if (
            seen >= total * _TAIL_START
            and len(line) < 80
            and _MORE_LABEL.match(line)
            and (i + 1 == len(lines) or len(lines[i + 1].split()) >= 4)
        ):
            return lines[:i]
        seen += len(line)
    return lines


def _is_chrome_line(line: str) -> bool:
    """Tell whether a line is page chrome: rights, ad labels, wire credits, "updated … ago"."""
    if len(line) < 800 and _DISCLOSURE.match(line) and _PAID.search(line):
        return True  # "Disclosure: as an affiliate I earn from qualifying purchases …"
    if len(line) >= 300:
        return False
    # A leading emoji, arrow or bullet does not make a call to action article text.
    line = _LEADING_SYMBOLS.sub("", line)
    low = line.casefold()
    if len(line) < 250 and (_SUPPORTED_BY.search(line) or _SPONSORED_MARK.search(line)):
        return True
    if _RIGHTS.match(line) or low in _AD_LABELS or _CREDITS.search(line):
        return True
    if len(line) < 250 and _PROMO.match(line):
        return True
    if len(line) < 140 and (_CALL_TO_ACTION.match(line) or _PAGE_CHROME.fullmatch(low)):
        return True
    if low.split(" ", 1)[0].strip("·|-:") in _AD_LABELS and len(low.split()) <= 5:
        return True  # "Advertisement · scroll to continue", "Advertisement: New Book!"
    if len(line) < 100 and _TALK_TO_US.search(line):
        return True
    if re.fullmatch(r"\d{1,3}\s*/\s*\d{1,3}", low):
        return True  # a gallery's "3 / 10" counter
    return len(low.split()) <= 6 and bool(_UPDATED_AGO.search(low))


_LEADING_SYMBOLS = re.compile(r"^[^\w(\[\"'“‘«¿¡]+")
# A disclosure paragraph about the money a page makes from its links, however long.
_DISCLOSURE = re.compile(
    r"^\W*((affiliate|advertis(er|ing)|ftc|editorial|financial) )?disclos(ure|ures|ed)\b\s*[:：.-]",
    re.IGNORECASE,
)
_PAID = re.compile(
    r"commission|affiliate|compensat|sponsor|qualifying purchases|paid|partner|earn", re.IGNORECASE
)
# "SeniorLiving is supported by commissions from providers listed on our site."
_SUPPORTED_BY = re.compile(
    r"\b(is|are) (supported|funded) by (the )?(commissions?|affiliate|advertis|referral)",
    re.IGNORECASE,
)
# A teaser line labelled as paid for: "GitHub Actions analytics (Sponsored)".
_SPONSORED_MARK = re.compile(
    r"[(\[](sponsored|sponsor|paid( post| content)?|partner content|promoted|anzeige"
    r"|publicité|publi-?reportage|إعلان|реклама)[)\]]\s*$",
    re.IGNORECASE,
)
# Short lines that send the reader to the site's sales team, wherever the phrase stands.
_TALK_TO_US = re.compile(
    r"\b(talk|speak|chat) (to|with) (our|an?|one of our) [\w -]{0,40}"
    r"(experts?|specialists?|team|advisors?|consultants?)\b|^fill (out|in) (the|this|our) form\b",
    re.IGNORECASE,
)
# A paragraph's closing sentence that asks for a newsletter sign-up; the rest of it stays.
_SIGN_UP_SENTENCE = re.compile(
    r"(?<=[.!?…])\s+((sign up|subscribe)( now| today)? (for|to) [^.!?]{0,80}"
    r"\bnewsletters?\b[^.!?]{0,60}[.!]?)$",
    re.IGNORECASE,
)
# The article's last lines asking readers to like, share or subscribe.
_CLOSING_ASK = re.compile(
    r"\b(if you (liked|enjoyed) (this|the) (article|post|story|piece)\b"
    r"|please (consider )?(liking|sharing|subscribing|supporting)\b"
    r"|(subscribe|sign up) (to|for) (our|my|the) [\w ]{0,40}newsletter\b)",
    re.IGNORECASE,
)
_PROMO = re.compile(
    r"^(skip (past|to)\b|our standards\b|this (article|story) (appears|appeared) in\b"
    r"|follow (us|[\w ]{1,30}) on (facebook|twitter|x\b|instagram)"
    r"|(sign up|subscribe)\b.{0,60}\bnewsletter\b|تابعونا على|اشترك في النشرة|اشترك في نشرتنا)",
    re.IGNORECASE,
)
# Calls to action and navigation that templates print inside the article container, in the
# words such lines use everywhere: short lines only, so a sentence of the story that merely
# starts with such a word ("Subscribers to the service said ...") is longer and stays.
_CALL_TO_ACTION = re.compile(
    r"^(sign[ -]?up\b|subscribe\b|subscribe now|join \w+ for free|follow us\b"
    r"|follow (me|him|her|them) on\b|share (this|on|via)\b"
    r"|pin (it|this|for later)\b|download (our|the) app|get (the|our) app|donate\b"
    r"|support (us|our (work|journalism)|my work)\b|leave a (comment|reply)\b"
    r"|want more( like this| of this)?\b.*\?|like this (article|post|story)\?"
    r"|(if you|when you) (buy|click|purchase) (through|via|from) (our |the )?(affiliate )?links?\b"
    r"|(this (post|article|page) (may )?contains?|we may earn) (affiliate|a commission)"
    r"|products are chosen independently|advertiser disclosure"
    r"|.{0,80}\bearn(s|ed)? (a commission )?from qualifying purchases\b"
    r"|join (our|the|my) ([\w-]+ )?(mailing list|newsletter|community|facebook group|group)\b"
    r"|(book|schedule|request) a (free )?(demo|call|quote|consultation)\b"
    r"|already (have an account|a (member|subscriber|customer))\b|republish this (article|story)\b"
    r"|this (article|story|post|content) is (exclusive|only available|available only) (to|for)\b"
    r"|help (me|us) spread the word\b"
    r"|.{0,80}\b(refer|tell) (your )?friends (and|to) (get|earn)\b"
    r"|get started (today|now|for free)\b|take the next step\b"
    r"|this (story|article|journalism|work) is (funded|supported|made possible) by (readers|you)"
    r"|(did you (make|try) (this|one of my) recipes?\b|(please )?(take a moment to )?leave a"
    r" (star )?rating\b)"
    r"|table of contents$|jump to (the )?(list|recipe|section|top)\b|page \d+ of \d+$"
    r"|back to (blog|top|home|articles|news|all)\b|(next|previous|prev) (article|post|story)\b"
    r"|(browse |see |view )?(related|similar|recommended) (articles|posts|stories|reads)\b"
    r"|(you (may|might) (also )?like|more (from|stories from|like this))\b"
    r"|(recent|latest|popular|trending|most read) (posts|articles|stories|news)\s*:?$"
    r"|posted (by|in|on) .{0,60}\b(at|on|in)\b|filed under\b|tagged( with)?:"
    r"|(written|reviewed|fact[- ]checked|edited) by [\w.'’ -]{2,40}$"
    r"|((featured?|top|header|lead|cover) )?(image|photo|picture|photograph)s?( credits?)?:?"
    r" (by|via|courtesy of|credit)\b|all other images\b"
    r"|abonnez-vous|inscrivez-vous|partager (sur|cet)|suivez-nous|newsletter abonnieren"
    r"|jetzt abonnieren|folgen sie uns|suscr[ií]bete|s[ií]guenos|comparte (esto|en)"
    r"|подпишитесь|поделиться|اشترك (الآن|في|ب)|شارك (المقال|الخبر|على)|تابعونا)",
    re.IGNORECASE,
)
# Whole lines that are a control or a section label of the page, not of the article.
_PAGE_CHROME = re.compile(
    r"(share|share this( (article|post|story))?|tweet|print|email|e-mail|comments?|\d+ comments?"
    r"|tags?|topics?|categories|newsletters?|subscribe|sign up|log ?in|advertisement"
    r"|privacy policy|terms of (use|service)|cookie (policy|settings)|\d+ min(ute)?s? read"
    r"|reading time:? \d+ min(ute)?s?|read (the )?(full|next) (story|article)|read more"
    r"|blog index|all posts|posts|projects|about( us)?|contact( us)?|home|share your story)[.:!]?"
)
_BIO = re.compile(
    r"^[\w.'’-]+( [\w.'’-]+){0,3} is (a|an|the) [\w ,-]{0,50}\b(writer|reporter|correspondent|"
    r"editor|journalist|columnist|contributor)\b"
)
_CREDITS = re.compile(
    r"^\(?(reporting|writing|editing|additional reporting) by\b"
    r"|\bcontributed (reporting )?to this (report|story|article)\.?$|^_{3,}$",
    re.IGNORECASE,
)
_UPDATED_AGO = re.compile(
    r"^(updated|published|منذ|آخر تحديث)\b.*(\bago\b|منذ|دقيقة|ساعة|ساعات|دقائق)|\bago$"
)


# Trafilatura drops non-printable characters, among them the zero-width (non-)joiners that
# Persian, Urdu and Kurdish spelling needs ("می‌شود"); carry them through as printable stand-ins.
_JOINERS = {"\u200c": "\u2e3a", "\u200d": "\u2e3b"}


def _protect_joiners(text: str) -> tuple[str, Callable[[str], str]]:
    used = {j: p for j, p in _JOINERS.items() if j in text and p not in text}
    if not used:
        return text, lambda s: s
    for joiner, stand_in in used.items():
        text = text.replace(joiner, stand_in)

    def restore(value: str) -> str:
        for joiner, stand_in in used.items():
            value = value.replace(stand_in, joiner)
        return value

    return text, restore


def _with_subheadings(tree: Any, lines: list[str]) -> list[str]:
    """Put back sub-headings trafilatura dropped: a short h2-h6 right before a kept paragraph."""
    present = {line.casefold() for line in lines}
    index = {line.casefold(): i for i, line in enumerate(lines)}
    inserts: dict[int, str] = {}
    for heading in tree.iter("h2", "h3", "h4", "h5", "h6"):
        text = " ".join(heading.text_content().split())
        if (
            not text
            or len(text) > 120
            or text.casefold() in present
            or heading.find(".//a") is not None
            or _is_chrome_line(text)
        ):
            continue
        follower = _next_paragraph(heading)
        if follower is None:
            continue
        nxt = " ".join(follower.text_content().split()).casefold()
        if nxt in index and index[nxt] not in inserts:
            inserts[index[nxt]] = text
    return _spliced(lines, {i: [text] for i, text in inserts.items()}, before=True)


def _next_paragraph(heading: Any) -> Any:
    """Return the paragraph a heading introduces, or None.

    That is the next element, or the first paragraph of the wrapper that comes next; a heading
    last in its own wrapper looks after the wrapper.
    """
    node = heading
    for _ in range(3):
        follower = node.getnext()
        while follower is not None and not isinstance(follower.tag, str):
            follower = follower.getnext()
        if follower is not None:
            if follower.tag == "p":
                return follower
            if follower.tag in ("div", "section"):
                return next(follower.iter("p"), None)
            return None
        node = node.getparent()
        if node is None or node.tag in ("body", "article", "main") or is_elsewhere(heading):
            return None  # past the article, or a footer's, sidebar's or promo box's heading
    return None


def _spliced(lines: list[str], inserts: dict[int, list[str]], *, before: bool) -> list[str]:
    """Return ``lines`` with ``inserts[i]`` put before (or after) line ``i``."""
    if not inserts:
        return lines
    out: list[str] = []
    for i, line in enumerate(lines):
        if before:
            out.extend(inserts.get(i, []))
        out.append(line)
        if not before:
            out.extend(inserts.get(i, []))
    return out


def _with_lists(tree: Any, lines: list[str]) -> list[str]:
    """Put back article lists trafilatura dropped: link-free items right after a kept paragraph."""
    index = {line.casefold(): i for i, line in enumerate(lines)}
    present = set(index)
    inserts: dict[int, list[str]] = {}
    for lst in tree.iter("ul", "ol"):
        # An item broken by <br> or blocks is several lines, as trafilatura writes it: glued
        # into one it would not be seen as present, and would come back a second time.
        lis = list(lst.iterchildren("li"))
        if len(lis) < 2 or lst.find(".//a") is not None:
            continue
        item_lines = [_block_lines(li) for li in lis]
        if not all(item_lines):
            continue
        items = [line for lines_of_item in item_lines for line in lines_of_item]
        # Trafilatura writes an item on one line or on several: either way it is there.
        forms = items + [" ".join(lines_of_item) for lines_of_item in item_lines]
        forms += [" ".join(li.text_content().split()) for li in lis]
        if any(form.casefold() in present or f"- {form}".casefold() in present for form in forms):
            continue
        before = lst.getprevious()
        if before is None or before.tag != "p":
            continue
        key = " ".join(before.text_content().split()).casefold()
        if key in index and index[key] not in inserts:
            inserts[index[key]] = items
    return _spliced(lines, inserts, before=False)


_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "table", "tr"}
)


def _block_lines(el: Any) -> list[str]:
    """Return an element's text as the lines a reader sees: broken at ``<br>`` and blocks."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if not isinstance(node.tag, str):
            parts.append(node.tail or "")
            return
        block = node.tag in _BLOCK_TAGS
        if block:
            parts.append("\n")
        parts.append(node.text or "")
        for child in node:
            walk(child)
        if block:
            parts.append("\n")
        parts.append(node.tail or "")

    parts.append(el.text or "")
    for child in el:
        walk(child)
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return [line for line in lines if line]


def _restored(value: Any, restore: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return restore(value)
    if isinstance(value, list):
        return [_restored(v, restore) for v in value]
    if isinstance(value, dict):
        return {k: _restored(v, restore) for k, v in value.items()}
    return value


def _guess_language(text: str) -> str | None:
    letters = [c for c in text[:4000] if c.isalpha()]
    if not letters:
        return None
    arabic = sum("\u0600" <= c <= "\u06ff" or "\u0750" <= c <= "\u077f" for c in letters)
    return "ar" if arabic / len(letters) > 0.6 else None


def extract_article(
    body: bytes,
    url: str | None,
    *,
    content_type: str | None = None,
    options: Extractor | None = None,
) -> dict[str, Any] | None:
    """Extract the article in ``body`` (the page at ``url``; None: its canonical URL).

    Returns the record's content fields (``text``, metadata, ``quality``…), or None when the
    page holds no extractable text. Bad input does not raise: undecodable bytes are replaced,
    and if a cleaning step fails on a page nobody foresaw, the page is extracted again without
    newswarc's cleaning (``quality.fallback`` names the error) rather than lost.
    """
    try:
        return _extract(body, url, content_type=content_type, options=options, clean=True)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"[:300]
        logger.warning("Cleaning failed on %s (%s); extracting without it", url, reason)
        record = _extract(body, url, content_type=content_type, options=options, clean=False)
        if record is not None:
            record["quality"]["fallback"] = reason
        return record


def _extract(
    body: bytes,
    url: str | None,
    *,
    content_type: str | None,
    options: Extractor | None,
    clean: bool,
) -> dict[str, Any] | None:
    text, encoding = decode_html(body, content_type)
    # Cheap test first: UTF-8 read as Latin-1 leaves a lead byte (Ã Â Ø Ù Ð…) before a C1 or
    # Latin-1 continuation character; only then ask ftfy, which costs milliseconds a page.
    mojibake = bool(_MOJIBAKE_HINT.search(text)) and ftfy.badness.is_bad(
        re.sub(r"<[^>]*>", " ", text[:100_000])
    )
    if mojibake:
        # The page itself carries mojibake (UTF-8 once read as Latin-1 by its CMS): repair it
        # before extraction, which would drop the C1 control characters ftfy needs.
        text = ftfy.fix_encoding(text)
    text, restore = _protect_joiners(text)
    tree = parse_html(text)
    # Before anything reads the body: streamed text put in place, closed panels opened.
    streamed = resolve_streamed_segments(tree) if clean else 0
    panels = open_collapsed_panels(tree) if clean else 0
    meta = read_page_meta(tree) if clean else PageMeta()
    visible = read_visible_meta(tree, meta.title) if clean else VisibleMeta()
    # A saved page given without its URL still names itself in its canonical link.
    url = url or meta.canonical_url or ""
    standfirst = standfirst_elements(tree, meta.title) if clean else []
    for el in standfirst:
        el.drop_tree()
    layout_tables = unwrap_layout_tables(tree) if clean else 0
    # Chrome first (hidden labels, buttons, credits): then a related box is measured as seen.
    boilerplate = remove_boilerplate(tree) if clean else 0
    report = remove_related_links(tree, url) if clean else CleanReport()
    loose = wrap_loose_text(tree) if clean else 0
    shielded = shield_prose(tree) if clean else 0
    stubs, frame = unmark_stub_frames(tree) if clean else (0, None)
    wrappers = unmark_wrapping_comments(frame)
    opts = copy.copy(options or extractor_options())
    opts.url = url
    opts.source = url
    # Per call: the latest acceptable date is today, not the day the worker started. No
    # extensive search: dateparser over all text costs most of an extraction's CPU and, on
    # pages that declare and print no date, finds some date in the text, not the publication's.
    opts.date_params = set_date_params(extensive=False)
    doc = trafilatura.bare_extraction(tree, options=opts)
    if not isinstance(doc, trafilatura.core.Document) or not doc.text:
        # Nothing passed trafilatura's thresholds: before calling the page empty, ask it again
        # favouring recall (a page of short paragraphs, or list items around a long story).
        opts.focus = "recall"
        doc = trafilatura.bare_extraction(tree, options=opts)
    if not isinstance(doc, trafilatura.core.Document) or not doc.text:
        return None
    site_name = meta.site_name or doc.sitename
    declared = _strip_site_suffix(meta.title or doc.title, site_name)
    if visible.logo and declared:
        # The logo's text names the site as the page prints it ("Roger's Blog: Headline").
        declared = _strip_logo(declared, visible.logo)
    title = _choose_title(declared, visible.headline, site_name, own=bool(meta.title))
    # The printed byline is what readers see; it often names more authors than the markup.
    outlets = {n.casefold() for n in (site_name, meta.publisher) if n}
    authors = choose_authors(visible.authors, meta.authors, outlets) or split_authors(
        (doc.author or "").split(";")
    )
    lines = _body_lines(doc.text, title, visible.headline, tree=tree if clean else None)
    if clean:
        # The byline goes after sub-headings are put back: a name set in an <h4> is one too.
        lines = _with_lists(tree, _with_subheadings(tree, lines))
        lines = _without_tail(_without_byline(lines, authors))
        lines = _without_second_copy(lines, title)
    article_text = restore("\n".join(lines))
    if not article_text:
        return None
    if _MOJIBAKE_HINT.search(article_text) and ftfy.badness.is_bad(article_text):
        # Mojibake written as entities ("&acirc;&euro;&trade;") is only seen once decoded.
        article_text = "\n".join(ftfy.fix_encoding(line) for line in article_text.split("\n"))
        mojibake = True
    if title and _MOJIBAKE_HINT.search(title) and ftfy.badness.is_bad(title):
        title = ftfy.fix_encoding(title)
    published, date_source = meta.published, meta.published_source
    if not published and visible.published:
        published, date_source = visible.published, "visible-text"
    if not published and doc.date:
        published, date_source = iso_date(doc.date), "htmldate"
    record = {
        "canonical_url": meta.canonical_url or None,
        "title": title,
        "authors": authors,
        "published": published,
        "modified": meta.modified or visible.modified,
        "language": meta.language or _guess_language(article_text),
        "site_name": site_name,
        "description": meta.description or doc.description,
        "categories": meta.categories or list(doc.categories or []),
        "tags": meta.tags or list(doc.tags or []),
        "image": meta.image or doc.image,
        "text": article_text,
        "word_count": len(article_text.split()),
        "text_sha1": hashlib.sha1(article_text.encode("utf-8"), usedforsecurity=False).hexdigest(),
        "extractor": extractor_info(),
        "quality": {
            "charset": encoding,
            "mojibake_fixed": mojibake,
            "declared_article": meta.is_article,
            "page_types": meta.types,
            "removed_blocks": report.removed_blocks,
            "removed_inline_related": report.removed_inline,
            "removed_separators": report.removed_separators,
            "removed_boilerplate": boilerplate,
            "layout_tables": layout_tables,
            "loose_paragraphs": loose,
            "shielded_blocks": shielded,
            "unmarked_stubs": stubs,
            "unmarked_wrappers": wrappers,
            "streamed_segments": streamed,
            "opened_panels": panels,
            "removed_standfirst": len(standfirst),
            "date_source": date_source,
            "text_chars": len(article_text),
            "paragraphs": article_text.count("\n") + 1,
            # Worth a look: short, or mostly cut away by the cleaner.
            "thin": len(article_text) < 500 or article_text.count("\n") < 2,
        },
    }
    return _restored(record, restore)
