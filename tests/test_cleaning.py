from __future__ import annotations

from pathlib import Path

import pytest
from lxml import html

from pipelines.cleaning import remove_related_links

SEED = Path(__file__).parent / "fixtures/seeds/000_7500bd3d4b4e77f2.txt"  # the reference page
URL = "https://news.example.com/2026/11/28/story.html"
P1 = "لم تبرد بعد محركات طائرة المبعوثة الأممية إلى ليبيا بعد لقائها القائد العام للجيش الليبي."
P2 = (
    "وأضافت أن اللقاء ناقش التزام الولايات المتحدة بتعزيز شراكتها مع الليبيين من جميع أنحاء البلاد."
)
H1 = "ليبيا.. باريس تستضيف لقاء بين حفتر والسراج"
H2 = "روسيا تخطط للحصول على حقوق ميناء المياه العميقة"


def clean(body: str, url: str = URL) -> tuple[str, int]:
    tree = html.document_fromstring(f"<html><body><article>{body}</article></body></html>")
    report = remove_related_links(tree, url)
    assert report.removed_inline <= report.removed_blocks
    return " ".join(tree.text_content().split()), report.removed_blocks


def test_blocks_between_paragraphs_are_counted_as_inline() -> None:
    tree = html.document_fromstring(
        f"<html><body><nav><ul><li><a href='/a/1'>{H1}</a></li></ul></nav><article>"
        f"<p>{P1}</p><ul><li><a href='/a/2'>{H2}</a></li></ul><p>{P2}</p></article></body></html>"
    )
    report = remove_related_links(tree, URL)
    assert (report.removed_blocks, report.removed_inline) == (2, 1)  # the menu is not inline


def test_seed_dash_pattern_is_removed_subheading_kept() -> None:
    text, removed = clean(
        f"<p>{P1}</p><p>-</p><p><a href='/2026/11/20/a.html'>{H1}</a></p><p>-</p>"
        f"<p><a href='/2026/11/21/b.html'>{H2}</a></p><h2>الهدف الأمريكي</h2><p>{P2}</p>"
    )
    assert H1 not in text and H2 not in text and "-" not in text.split()
    assert P1 in text and P2 in text and "الهدف الأمريكي" in text
    assert removed == 2


def test_dashes_as_text_nodes_in_one_div() -> None:
    text, _ = clean(
        f"<p>{P1}</p><div>-<br><a href='/x/1.html'>{H1}</a><br>-<br>"
        f"<a href='/x/2.html'>{H2}</a></div><p>{P2}</p>"
    )
    assert H1 not in text and H2 not in text and P1 in text and P2 in text


@pytest.mark.parametrize("label", ["اقرأ أيضا:", "اقرأ أيضاً", "ذات صلة", "Read more:", "See also"])
def test_labelled_boxes_with_any_class(label: str) -> None:
    text, removed = clean(
        f"<p>{P1}</p><div class='x9f2'><strong>{label}</strong><ul><li><a href='/a/1'>{H1}</a></li>"
        f"<li><a href='/a/2'>{H2}</a></li></ul></div><p>{P2}</p>"
    )
    assert H1 not in text and H2 not in text and removed == 1 and P2 in text


def test_label_and_link_in_one_paragraph() -> None:
    text, _ = clean(f"<p>{P1}</p><p><strong>اقرأ أيضا:</strong> <a href='/n/9'>{H1}</a></p>")
    assert H1 not in text and P1 in text


def test_aside_card_with_image() -> None:
    text, _ = clean(
        f"<p>{P1}</p><aside><a href='/n/7'><img src='x.jpg'><h4>{H1}</h4></a>"
        "<span>منذ ساعة</span></aside>"
        f"<p>{P2}</p>"
    )
    assert H1 not in text and P1 in text and P2 in text


def test_paragraph_with_an_inline_link_is_kept() -> None:
    sentence = (
        "وقالت الوزارة في بيان نشرته على موقعها إن <a href='/2026/11/01/x.html'>الاتفاق السابق</a> "
        "لم يعد ساريا بعد انسحاب الطرفين من المفاوضات الأخيرة في جنيف."
    )
    text, removed = clean(f"<p>{P1}</p><p>{sentence}</p><p>{P2}</p>")
    assert "الاتفاق السابق" in text and removed == 0


def test_links_to_other_sites_are_not_related_articles() -> None:
    text, removed = clean(
        f"<p>{P1}</p><p><a href='https://other.org/report.pdf'>التقرير الكامل</a></p>"
    )
    assert "التقرير الكامل" in text and removed == 0


def test_subheading_that_is_not_a_link_survives_among_link_lists() -> None:
    text, _ = clean(f"<h3>ملفات التعاون</h3><ul><li><a href='/1'>{H1}</a></li></ul><p>{P1}</p>")
    assert "ملفات التعاون" in text and H1 not in text


def test_english_bare_list_of_headlines() -> None:
    para = "The ministry said on Tuesday that the agreement would be signed next month in Geneva."
    text, _ = clean(
        f"<p>{para}</p><ul><li><a href='/world/2026/11/03/a'>Markets fall as talks stall</a></li>"
        f"<li><a href='/world/2026/11/02/b'>Leaders meet in Rome</a></li></ul><p>{para}</p>"
    )
    assert "Markets fall" not in text and "Leaders meet" not in text and para in text


def test_seed_reference_page_blocks_are_all_removed() -> None:
    lines = SEED.read_text("utf-8").splitlines()
    related = [ln for i, ln in enumerate(lines) if i and lines[i - 1] == "-"]
    parts, n = [], 0
    for i, ln in enumerate(lines[1:], 1):
        if ln == "-":
            parts.append("<p>-</p>")
        elif lines[i - 1] == "-":
            n += 1
            parts.append(f"<p><a href='/2026/08/{n}/x.html'>{ln}</a></p>")
        elif len(ln) < 40:
            parts.append(f"<h2>{ln}</h2>")
        else:
            parts.append(f"<p>{ln}</p>")
    text, removed = clean("".join(parts))
    assert related and removed == len(related)
    assert not [h for h in related if h in text]
    for sub in ("الهدف الأمريكي", "الجيش الليبي", "ملفات التعاون"):
        assert sub in text


def test_link_alone_between_line_breaks_but_not_inside_a_sentence() -> None:
    text, removed = clean(
        f"<div>{P1}<br><br><a href='/v/1'>{H1}</a><br><br>"
        f"وقال إن <a href='/n/2'>الاتفاق السابق لم يعد ساريا</a> بعد انسحاب الطرفين."
        f"<br><br>{P2}</div>"
    )
    assert H1 not in text and removed == 1
    assert "الاتفاق السابق لم يعد ساريا" in text and P1 in text and P2 in text


def test_layout_tables_are_unwrapped_and_data_tables_kept_even_with_a_p_per_cell() -> None:
    from pipelines.cleaning import unwrap_layout_tables
    from pipelines.metadata import parse_html

    story = "The council voted to approve the barrier after a decade of delays. " * 6
    # The whole article in one cell of a template's table: layout.
    tree = parse_html(
        f"<html><body><table><tr><td><p>{story}</p><p>{story}</p></td><td>Menu</td></tr>"
        "</table></body></html>"
    )
    assert unwrap_layout_tables(tree) == 1 and tree.find(".//table") is None
    # A price table whose editor wrapped every cell's text in a <p>: data, kept.
    rows = "".join(
        f"<tr><td><p><strong>{name}</strong></p></td><td>{cost}</td><td><p>{note}</p></td></tr>"
        for name, cost, note in (
            ("Traditional", "Usually free", "Publisher covers costs"),
            ("Hybrid", "$1,000 - $10,000", "Shared costs"),
            ("Self-publishing", "$500 - $5,000", "Author pays all costs"),
        )
    )
    tree = parse_html(f"<html><body><table><tbody>{rows}</tbody></table></body></html>")
    assert unwrap_layout_tables(tree) == 0 and len(tree.findall(".//td")) == 9
    # A cell of several paragraphs, or of long running text, is layout however short each is.
    tree = parse_html(
        "<html><body><table><tr><td><p>Intro</p><p>Second block</p></td></tr></table></body></html>"
    )
    assert unwrap_layout_tables(tree) == 1
    # A comparison grid: long text in its cells, but rows of the same four cells are data.
    verdict = "Offers enough scalability and advanced features for a growing team of sellers. " * 4
    rows = "".join(
        f"<tr><td>{size}</td><td>{verdict}</td><td><p>{verdict}</p></td><td>Best</td></tr>"
        for size in ("Small", "Medium", "Large")
    )
    tree = parse_html(f"<html><body><table><tbody>{rows}</tbody></table></body></html>")
    assert unwrap_layout_tables(tree) == 0 and len(tree.findall(".//td")) == 12
    # Two columns of blocks stay layout, however many rows.
    rows = f"<tr><td><p>{story}</p></td><td>Menu</td></tr>" * 3
    tree = parse_html(f"<html><body><table>{rows}</table></body></html>")
    assert unwrap_layout_tables(tree) == 1


def test_a_checklist_linking_some_items_keeps_them_a_link_list_and_breadcrumb_do_not() -> None:
    from pipelines.metadata import parse_html

    def kept(items: str) -> list[str]:
        tree = parse_html(
            "<html><body><article><p>" + "What to pack for a night out. " * 8 + "</p>"
            f"<ul>{items}</ul></article></body></html>"
        )
        remove_related_links(tree, URL)
        return [" ".join(li.text_content().split()) for li in tree.iter("li")]

    checklist = (
        "<li><a href='/gear/best-sleeping-bags/'>Sleeping bag</a> / "
        "<a href='/gear/best-quilts/'>quilt</a></li><li>Pad straps (optional)</li>"
        "<li><a href='/gear/best-sleeping-pads/'>Sleeping pad</a></li><li>Pump sack</li>"
    )
    assert kept(checklist) == [
        "Sleeping bag / quilt",
        "Pad straps (optional)",
        "Sleeping pad",
        "Pump sack",
    ]
    # Links throughout, or links and a label: other articles, removed.
    related = "".join(
        f"<li><a href='/2026/11/{n}/story.html'>Another story headline number {n}</a></li>"
        for n in range(1, 4)
    )
    assert kept(related) == []
    assert kept(f"<li>You are here:</li>{related}") == []


def test_loose_prose_beside_blocks_becomes_paragraphs_in_place() -> None:
    from pipelines.cleaning import wrap_loose_text

    tree = html.document_fromstring(
        "<html><body><h2>Problem</h2>What shapes can <b>one straight cut</b> make?<!-- note -->"
        "<ol><li>Fold it.</li></ol>Are all shapes possible, and which are not?"
        "<div class='x'><span>Always enabled</span><div>icon</div>"
        "<span>Deal prices may change after the time of publication.</span></div>"
        "</body></html>"
    )
    assert wrap_loose_text(tree) == 2
    body = tree.body
    assert [c.tag for c in body if isinstance(c.tag, str)] == ["h2", "p", "ol", "p", "div"]
    first = body[1]
    assert " ".join(first.text_content().split()) == "What shapes can one straight cut make?"
    assert body[3].text == "Are all shapes possible, and which are not?"
    # Beside only <div>s a run is a widget's label: left as it was.
    assert [c.tag for c in body[4]] == ["span", "div", "span"]


def test_loose_text_too_short_or_a_link_card_is_not_wrapped() -> None:
    from pipelines.cleaning import wrap_loose_text

    tree = html.document_fromstring(
        "<html><body><p>Lead paragraph of the story goes here.</p> | "
        "<a href='/x'><div>A card that wraps a block</div></a><p>Next.</p></body></html>"
    )
    assert wrap_loose_text(tree) == 0
    assert [c.tag for c in tree.body] == ["p", "a", "p"]


def _stub_then_frame(sections: list[str]) -> str:
    # A breadcrumb whose class matches trafilatura's first content XPath, then the real frame.
    return (
        "<html><body><div class='page-content-breadcrumbs trail'><div><nav><ol>"
        "<li>Setting up the server</li></ol></nav></div></div>"
        "<div class='wrap'><div class='article-body'>"
        + "".join(
            f"<h2>Step {n}</h2><p>{text}</p><ul><li>Check the log for step {n}.</li>"
            f"<li>Restart after step {n}.</li></ul>"
            for n, text in enumerate(sections)
        )
        + "</div></div></body></html>"
    )


_SECTIONS = [
    f"Part {n} of the guide explains the setup in plain words, with the reasons for it and "
    "what to check once it is done, why the order of the steps matters, and which settings "
    "are safe to leave at their defaults."
    for n in range(6)
]


def test_a_breadcrumb_stub_that_matches_a_frame_xpath_is_unmarked() -> None:
    import trafilatura
    from trafilatura.xpaths import BODY_XPATH

    from pipelines.cleaning import unmark_stub_frames

    page = _stub_then_frame(_SECTIONS)
    # As it comes, trafilatura takes the breadcrumb for the frame, finds nothing in it and
    # falls back to loose paragraphs: the headings and lists are gone.
    plain = trafilatura.bare_extraction(html.document_fromstring(page), with_metadata=False)
    assert "Step 0" not in plain.text
    assert "Restart after step 0." not in plain.text
    tree = html.document_fromstring(page)
    stub = tree.body[0]
    assert any(expr(tree) and expr(tree)[0] is stub for expr in BODY_XPATH)
    unmarked, frame = unmark_stub_frames(tree)
    assert unmarked == 1
    assert frame is tree.body[1][0]
    # Only the tokens that matched go: the rest stay for trafilatura's own rules.
    assert stub.get("class") == "trail"
    assert not any(stub in expr(tree) for expr in BODY_XPATH)
    assert tree.body[1][0].get("class") == "article-body"
    text = trafilatura.bare_extraction(tree, with_metadata=False).text
    for n in range(6):
        assert f"Step {n}" in text
        assert f"Restart after step {n}." in text


def test_a_frame_that_is_itself_the_article_or_no_bigger_match_is_left_alone() -> None:
    from pipelines.cleaning import unmark_stub_frames

    tree = html.document_fromstring(
        _stub_then_frame(_SECTIONS).replace("page-content-breadcrumbs trail", "trail")
    )
    assert unmark_stub_frames(tree) == (0, tree.body[1][0])  # the first match is the article
    assert tree.body[1][0].get("class") == "article-body"
    short = html.document_fromstring(_stub_then_frame(["Brief."]))
    assert unmark_stub_frames(short)[0] == 0  # no later match is big enough to be the article
    assert short.body[0].get("class") == "page-content-breadcrumbs trail"


def test_a_box_around_the_whole_story_loses_its_comment_class_a_comment_section_does_not() -> None:
    import trafilatura

    from pipelines.cleaning import unmark_stub_frames, unmark_wrapping_comments

    story = "".join(f"<p>{text}</p>" for text in _SECTIONS)
    wrapped = (
        "<html><body><div class='post-content'><div class='commentOnSelection'>"
        f"{story}</div></div></body></html>"
    )
    # With comments off, trafilatura drops the box as a comment section, and the story with it.
    plain = trafilatura.bare_extraction(
        html.document_fromstring(wrapped), with_metadata=False, include_comments=False
    )
    assert plain is None or _SECTIONS[1] not in (plain.text or "")
    tree = html.document_fromstring(wrapped)
    assert unmark_wrapping_comments(unmark_stub_frames(tree)[1]) == 1
    assert tree.xpath("//div[@class='']")
    text = trafilatura.bare_extraction(tree, with_metadata=False, include_comments=False).text
    assert all(s in text for s in _SECTIONS)
    comments = "".join(f"<p>Reader {n}: {_SECTIONS[n]}</p>" for n in range(3))
    beside = html.document_fromstring(
        "<html><body><div class='post-content'>"
        f"{story}<div class='comments-area'>{comments}</div></div></body></html>"
    )
    assert unmark_wrapping_comments(unmark_stub_frames(beside)[1]) == 0
    assert beside.xpath("//div[@class='comments-area']")


def test_the_cheap_first_frame_finds_what_trafilaturas_first_frame_xpath_finds() -> None:
    from trafilatura.xpaths import BODY_XPATH

    from pipelines.cleaning import _first_frame
    from pipelines.metadata import parse_html

    pages = sorted(Path(__file__).parent.joinpath("fixtures").rglob("*.html*"))
    assert len(pages) > 50
    extra = (
        "<html><body><div class='entry'>e</div><section id='articleContent'>a</section>"
        "<div class='x post-body y'>b</div></body></html>",
        "<html><body><main itemprop='articleBody'>m</main></body></html>",
        "<html><body><div class='nothing'>n</div><p class='post-body'>p</p></body></html>",
    )
    for source in [*(p.read_bytes().decode("utf-8", "replace") for p in pages), *extra]:
        if source.startswith("\x1f"):
            continue
        tree = parse_html(source)
        found = BODY_XPATH[0](tree)
        assert _first_frame(tree) is (found[0] if found else None)
