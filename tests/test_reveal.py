from __future__ import annotations

from lxml import html

from pipelines.reveal import open_collapsed_panels, resolve_streamed_segments

PARAS = [
    f"Paragraph {n} of the streamed story, sent after the footer by the server." for n in range(3)
]


def _texts(el: html.HtmlElement) -> list[str]:
    return [" ".join(p.text_content().split()) for p in el.iter("p")]


def test_streamed_segments_replace_their_placeholders_in_order() -> None:
    tree = html.document_fromstring(
        "<html><body><div class='article-body'><h1>Headline</h1>"
        "<!--$?--><template id='B:0'></template><div>Loading <!-- -->paragraph...</div><!--/$-->"
        "<!--$?--><template id='B:1'></template>Loading<!--/$--> tail text</div>"
        "<footer>Site footer</footer>"
        f"<div hidden id='S:0'><p>{PARAS[0]}</p><template id='P:2'></template></div>"
        '<script>$RC("B:0","S:0")</script>'
        f'<div hidden id=\'S:2\'><p>{PARAS[1]}</p></div><script>$RS("S:2","P:2")</script>'
        f'<div hidden id=\'S:7\'><p>{PARAS[2]}</p></div><script>$RC("B:1","S:7")</script>'
        "</body></html>"
    )
    assert resolve_streamed_segments(tree) == 3
    body = tree.xpath("//div[@class='article-body']")[0]
    assert _texts(body) == PARAS
    assert "Loading" not in body.text_content()
    assert body.text_content().endswith(" tail text")
    assert not tree.xpath("//*[@hidden] | //template")
    assert tree.xpath("//footer")[0].text == "Site footer"


def test_without_scripts_or_markers_segments_pair_by_number_and_only_a_stub_is_dropped() -> None:
    tree = html.document_fromstring(
        "<html><body><div class='story'>"
        "<template id='B:0'></template><div>Loading paragraph...</div>"
        "<template id='B:1'></template><div><p>A real block of the story that sits right after"
        " a placeholder and is long enough to be no loading stub at all, so it stays.</p></div>"
        f"</div><div hidden id='S:0'><p>{PARAS[0]}</p></div>"
        f"<div hidden id='S:1'><p>{PARAS[1]}</p></div>"
        f"<div hidden id='S:9'><p>{PARAS[2]}</p></div></body></html>"
    )
    assert resolve_streamed_segments(tree) == 2
    story = tree.xpath("//div[@class='story']")[0]
    texts = _texts(story)
    assert texts[:2] == PARAS[:2]
    assert texts[2].startswith("A real block of the story")
    assert "Loading" not in story.text_content()
    # No placeholder: the segment stays hidden where it was.
    assert [el.get("id") for el in tree.xpath("//div[@hidden]")] == ["S:9"]


def test_a_page_without_streamed_segments_is_left_as_it_is() -> None:
    page = "<html><body><div hidden id='S:0'>x</div><template id='T'></template></body></html>"
    tree = html.document_fromstring(page.replace("S:0", "menu"))
    before = html.tostring(tree)
    assert resolve_streamed_segments(tree) == 0
    assert html.tostring(tree) == before


def test_accordion_and_tab_panels_open_menus_and_dialogs_stay_closed() -> None:
    tree = html.document_fromstring(
        "<html><body>"
        "<button id='h1' aria-controls='a1'>How long does it take?</button>"
        "<div id='a1' role='region' aria-labelledby='h1' style='display:none;'>"
        "<p>Two days.</p></div>"
        "<div role='tabpanel' aria-labelledby='t2' hidden><p>Specs.</p></div>"
        "<div role='region' aria-labelledby='h3' aria-hidden='true' class='c'><p>Why.</p></div>"
        "<div role='dialog' aria-labelledby='d' style='display: none'><p>Subscribe!</p></div>"
        "<ul role='menu' hidden><li>Shop</li></ul>"
        "<div role='region' style='display:none'><p>No label.</p></div>"
        "</body></html>"
    )
    assert open_collapsed_panels(tree) == 3
    opened = tree.xpath(
        "//*[@aria-labelledby='h1' or @aria-labelledby='t2' or @aria-labelledby='h3']"
    )
    for el in opened:
        assert el.get("hidden") is None and el.get("aria-hidden") is None
        assert "none" not in (el.get("style") or "")
    assert tree.xpath("//*[@role='dialog']")[0].get("style") == "display: none"
    assert tree.xpath("//*[@role='menu']")[0].get("hidden") is not None
    assert "none" in tree.xpath("//*[@role='region'][not(@aria-labelledby)]")[0].get("style")


def test_a_block_a_heading_toggle_controls_or_sits_before_is_opened_a_menu_is_not() -> None:
    tree = html.document_fromstring(
        "<html><body><nav><button aria-expanded='false' aria-controls='menu'>Menu</button>"
        "<ul id='menu' hidden><li><a href='/shop'>Shop</a></li></ul></nav>"
        "<h3><button aria-expanded='false'><p>Weight</p></button></h3>"
        "<div aria-hidden='true' hidden tabindex='-1'><p>Light shoes tire the legs less.</p></div>"
        "<h3><button aria-expanded='false' aria-controls='fit'>Fit</button></h3><p>Aside.</p>"
        "<div id='fit' style='display: none'><p>Leave a thumb's width at the toe.</p></div>"
        "<h3><button aria-expanded='true'>Price</button></h3><div><p>Shown already.</p></div>"
        "</body></html>"
    )
    assert open_collapsed_panels(tree) == 2
    weight = tree.xpath("//div[@tabindex]")[0]
    assert weight.get("hidden") is None and weight.get("aria-hidden") is None
    assert "none" not in tree.xpath("//*[@id='fit']")[0].get("style")
    assert tree.xpath("//*[@id='menu']")[0].get("hidden") is not None
