"""Put back article text a page hides until its scripts run: streamed segments, closed panels."""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

# React's streaming renderer sends a boundary's content late, as a hidden <div id="S:n"> at the
# end of the body, and a script moves it over the placeholder <template id="B:n"> (a boundary,
# whose "Loading…" fallback goes) or <template id="P:n"> (a segment). Without the script the
# article body is a row of placeholders and the text sits after the footer.
_INSTRUCTION = re.compile(r"""\$R([CS])\(\s*["']([BSP]:\w+)["']\s*,\s*["']([BSP]:\w+)["']""")
_FALLBACK_LETTERS = 40  # letters: "Loading paragraph…", a skeleton; not a sentence of text
_HIDING_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def _pairs(tree: Any) -> dict[str, str]:
    """Map each streamed segment's id to its slot's, as the page's own scripts name them."""
    pairs: dict[str, str] = {}
    for script in tree.iter("script"):
        code = script.text or ""
        if "$R" not in code:
            continue
        for kind, first, second in _INSTRUCTION.findall(code):
            # $RC(boundary, segment) completes a boundary; $RS(segment, placeholder) a segment.
            slot, segment = (first, second) if kind == "C" else (second, first)
            pairs[segment] = slot
    return pairs


def _drop_fallback(slot: Any) -> None:
    """Remove what a boundary shows while it waits: up to its closing comment, or one stub."""
    before = slot.getprevious()
    if before is not None and before.tag is etree.Comment and (before.text or "") == "$?":
        slot.tail = None  # text straight after the placeholder is fallback too
        depth, node = 0, slot.getnext()
        while node is not None:
            following = node.getnext()
            if node.tag is etree.Comment:
                marker = (node.text or "").strip()
                if marker == "/$" and depth == 0:
                    return
                if marker.startswith("$"):
                    depth += 1
                elif marker == "/$":
                    depth -= 1
            node.getparent().remove(node)
            node = following
        return
    # Markers stripped (a saved or minified page): the fallback is the one short block after it.
    node = slot.getnext()
    if (
        node is not None
        and isinstance(node.tag, str)
        and node.tag != "template"
        and not (slot.tail or "").strip()
        and _letters(node.text_content()) <= _FALLBACK_LETTERS
    ):
        slot.tail = node.tail
        node.getparent().remove(node)


def _put_in_place(slot: Any, segment: Any) -> None:
    """Replace ``slot`` with the content of ``segment``, text and tails kept."""
    parent = slot.getparent()
    at = parent.index(slot)
    lead, tail = segment.text, slot.tail
    children = list(segment)
    parent.remove(slot)
    if lead:
        if at > 0:
            parent[at - 1].tail = (parent[at - 1].tail or "") + lead
        else:
            parent.text = (parent.text or "") + lead
    for offset, child in enumerate(children):
        parent.insert(at + offset, child)
    if tail:
        if children:
            children[-1].tail = (children[-1].tail or "") + tail
        elif at > 0:
            parent[at - 1].tail = (parent[at - 1].tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    segment.drop_tree()


def resolve_streamed_segments(tree: Any) -> int:
    """Move each streamed hidden segment over its placeholder, as the page's script would.

    The pairing comes from the page's ``$RC``/``$RS`` calls; where the scripts are gone, a
    segment ``S:n`` goes to ``B:n`` or ``P:n``. A segment without a placeholder stays where
    it is. Returns how many segments were moved.
    """
    segments = tree.xpath("//div[@hidden][starts-with(@id, 'S:')]")
    if not segments:
        return 0
    slots = {
        el.get("id"): el for el in tree.iter("template") if (el.get("id") or "")[:2] in ("B:", "P:")
    }
    pairs = _pairs(tree)
    moved = 0
    for segment in segments:
        key = segment.get("id")
        slot_ids = [pairs[key]] if key in pairs else ["B:" + key[2:], "P:" + key[2:]]
        slot = next((slots[i] for i in slot_ids if i in slots), None)
        if slot is None or slot.getparent() is None or segment in slot.iterancestors():
            continue
        if slot.get("id", "").startswith("B:"):
            _drop_fallback(slot)
        _put_in_place(slot, segment)
        moved += 1
    return moved


_HEADING_TAGS = frozenset({"h2", "h3", "h4", "h5", "h6"})


def _is_heading(el: Any) -> bool:
    return el.tag in _HEADING_TAGS or el.get("role") == "heading"


def _is_hidden(el: Any) -> bool:
    return (
        el.get("hidden") is not None
        or el.get("aria-hidden") == "true"
        or bool(_HIDING_STYLE.search(el.get("style") or ""))
    )


def _open(el: Any) -> None:
    style = el.get("style")
    if style and _HIDING_STYLE.search(style):
        el.set("style", _HIDING_STYLE.sub("", style))
    el.attrib.pop("hidden", None)
    if el.get("aria-hidden") == "true":
        del el.attrib["aria-hidden"]


def open_collapsed_panels(tree: Any) -> int:
    """Unhide accordion and tab panels: text the reader opens with a click is the page's text.

    A panel is what WAI-ARIA calls one: ``role="region"`` or ``role="tabpanel"`` labelled by
    its header (``aria-labelledby``), or the block a heading's toggle (a button with
    ``aria-expanded`` inside a heading) controls or sits right before. Menus and dialogs
    hide the same way and stay hidden: their toggles are not headings. Returns how many panels
    were opened.
    """
    panels: dict[Any, None] = {}
    # Attribute scans first: they are cheap, and most pages have neither attribute.
    for el in tree.xpath("//*[@aria-labelledby]"):
        if el.get("role") in ("region", "tabpanel") and _is_hidden(el):
            panels[el] = None
    for toggle in tree.xpath("//*[@aria-expanded]"):
        heading = next(
            (
                a
                for a in toggle.iterancestors()
                if a.tag in _HEADING_TAGS or a.get("role") == "heading"
            ),
            None,
        )
        if heading is None:
            continue
        targets = (toggle.get("aria-controls") or "").split()
        found = [el for key in targets for el in tree.xpath("//*[@id=$key]", key=key)]
        if not found and (after := heading.getnext()) is not None:
            found = [after]
        panels.update((el, None) for el in found if isinstance(el.tag, str) and _is_hidden(el))
    for el in panels:
        _open(el)
    return len(panels)
