from __future__ import annotations

from pipelines.metadata import iso_date, parse_html, read_page_meta, split_authors

PAGE = """<html lang="ar-EG"><head>
<title>عنوان الخبر | موقع الأخبار</title>
<link rel="canonical" href="https://n.example/a/1">
<meta property="og:site_name" content="موقع الأخبار">
<meta property="article:published_time" content="2026-11-28T09:15:00+03:00">
<script type="application/ld+json">
{"@context": "https://schema.org", "@graph": [{"@type": "WebPage"},
 {"@type": "NewsArticle", "headline": "عنوان الخبر",
  "datePublished": "2026-11-28T10:15:00+03:00",
  "dateModified": "2026-11-28T12:00:00Z", "author": [{"@type": "Person", "name": "بقلم: سارة علي"},
  {"@type": "Person", "name": "By John Smith"}],
  "articleSection": "سياسة", "keywords": "ليبيا, حفتر"}]}
</script></head><body><p>x</p></body></html>"""


def test_json_ld_graph_wins_and_is_normalized() -> None:
    meta = read_page_meta(parse_html(PAGE))
    assert meta.is_article and "NewsArticle" in meta.types
    assert meta.title == "عنوان الخبر"
    assert meta.authors == ["سارة علي", "John Smith"]
    assert meta.published == "2026-11-28T10:15:00+03:00" and meta.published_source == "json-ld"
    assert meta.modified == "2026-11-28T12:00:00+00:00"
    assert meta.language == "ar"
    assert meta.canonical_url == "https://n.example/a/1"
    assert meta.site_name == "موقع الأخبار"
    assert meta.categories == ["سياسة"] and meta.tags == ["ليبيا", "حفتر"]


def test_meta_tags_and_time_element_fallbacks() -> None:
    meta = read_page_meta(
        parse_html(
            '<html><head><meta name="author" content="Jane Doe and Ali Hassan"></head>'
            '<body><time datetime="2026-11-27">27 Nov</time></body></html>'
        )
    )
    assert meta.authors == ["Jane Doe", "Ali Hassan"]
    assert meta.published == "2026-11-27" and meta.published_source == "time"
    assert not meta.is_article


def test_broken_json_ld_is_ignored() -> None:
    meta = read_page_meta(
        parse_html(
            '<html><head><script type="application/ld+json">{"@type": </script></head></html>'
        )
    )
    assert meta.types == [] and meta.title is None


def test_helpers() -> None:
    assert iso_date("2026-11-28T10:15:00Z") == "2026-11-28T10:15:00+00:00"
    assert iso_date("not a date") is None
    assert split_authors(["كتب: محمد أحمد، ليلى سالم"]) == ["محمد أحمد", "ليلى سالم"]


def test_visible_byline_and_date_after_the_headline() -> None:
    from pipelines.metadata import read_visible_meta

    tree = parse_html(
        "<html><body><header>الخميس 28 نوفمبر 2026</header><h1>عنوان</h1>"
        '<div class="c-8e5f">كتب: أحمد عبد الحميد و منى سالم</div>'
        "<div><span>الثلاثاء، 17 مارس 2026 02:15 م</span> | آخر تحديث 18 مارس 2026</div>"
        "<p>" + "نص المقال " * 40 + "</p><p>بقلم: شخص آخر في الأسفل</p></body></html>"
    )
    found = read_visible_meta(tree)
    assert found.authors == ["أحمد عبد الحميد", "منى سالم"]
    assert found.published == "2026-03-17T14:15:00"  # not the header's "today", nor the update


def test_byline_links_name_the_authors() -> None:
    from pipelines.metadata import read_visible_meta

    tree = parse_html(
        '<html><body><h1>Headline</h1><div>By <a href="/a/1">Hannah Okafor</a> and '
        '<a href="/a/2">Tariq Mansour</a></div><div>May 12, 2026 10:30 GMT</div></body></html>'
    )
    found = read_visible_meta(tree)
    assert found.authors == ["Hannah Okafor", "Tariq Mansour"]
    assert found.published == "2026-05-12T10:30:00"


def test_organization_and_staff_bylines_are_not_people() -> None:
    meta = read_page_meta(
        parse_html(
            '<html><head><script type="application/ld+json">{"@type": "NewsArticle",'
            '"author": {"@type": "Organization", "name": "قناة الأفق"}}</script></head></html>'
        )
    )
    assert meta.authors == []
    assert split_authors(["Staff report"]) == []


def test_logo_h1_is_not_taken_for_the_headline() -> None:
    from pipelines.metadata import read_visible_meta

    tree = parse_html(
        "<html><head><title>Port strike deepens as talks collapse | Daily Meridian</title></head>"
        "<body><header><h1>Daily Meridian</h1><div>Sunday 29 November 2026</div></header>"
        "<article><h1>Port strike deepens as talks collapse</h1><div>By Jane Roe</div>"
        "<div>27 November 2026</div><p>"
        + "Text of the article. " * 20
        + "</p></article></body></html>"
    )
    found = read_visible_meta(tree)
    assert found.published == "2026-11-27" and found.authors == ["Jane Roe"]


def test_authors_from_far_bylines_but_not_from_comments() -> None:
    from pipelines.metadata import read_visible_meta

    body = (
        "<h1>Headline of the story</h1><p>" + "Text of the story. " * 30 + "</p>"
        "<div class='comments'><span class='comment-author vcard'><a href='/x'>Carl Critic</a>"
        "</span></div><div class='post-meta'><a href='/author/jane-roe/'>Written by Jane Roe</a>"
        "</div>"
    )
    tree = parse_html(
        f"<html><head><title>Headline of the story</title></head><body>{body}</body></html>"
    )
    assert read_visible_meta(tree, "Headline of the story").authors == ["Jane Roe"]
    card = parse_html(
        '<html><head><meta name="twitter:label1" content="Written by">'
        '<meta name="twitter:data1" content="Nora Lind"></head><body></body></html>'
    )
    assert read_page_meta(card).authors == ["Nora Lind"]
    assert split_authors(["Jane Roe, Sr. Director of Operations", "Ph.D.", "on"]) == ["Jane Roe"]


def test_dates_above_the_headline_in_reader_meta_and_without_a_heading() -> None:
    from pipelines.metadata import read_visible_meta

    # A date line above the headline counts; the site header's "today" never does.
    tree = parse_html(
        "<html><body><header><span>Thursday, December 3, 2026</span></header><main>"
        "<div><span>Tech</span><div><svg></svg> Dec 12, 2025 </div></div>"
        "<h1>Why Rust</h1><p>" + "words " * 60 + "</p></main></body></html>"
    )
    assert read_visible_meta(tree).published == "2025-12-12"
    tree = parse_html(
        "<html><body><header><span>Thursday, December 3, 2026</span></header><main>"
        "<h1>Why Rust</h1><p>" + "words " * 60 + "</p></main></body></html>"
    )
    assert read_visible_meta(tree).published is None
    # A date written for readers in a <meta> of its own.
    tree = parse_html(
        '<html><head><meta name="published" content="July 17, 2025"></head><body></body></html>'
    )
    assert read_page_meta(tree).published == "2025-07-17"
    # No heading element: the element printing the declared title is the headline, and the
    # date after the standfirst paragraph is found.
    tree = parse_html(
        "<html><body><div><p class='x1'>A Title Set in a Paragraph</p>"
        "<p>" + "standfirst words " * 20 + "</p><p>Dec 17, 2025</p>"
        "<p>" + "body words " * 30 + "</p></div></body></html>"
    )
    found = read_visible_meta(tree, "A Title Set in a Paragraph")
    assert found.headline == "A Title Set in a Paragraph"
    assert found.published == "2025-12-17"


def test_bylines_as_label_and_name_and_named_teams() -> None:
    from pipelines.metadata import read_visible_meta

    story = "<p>" + "words of the story " * 20 + "</p>"
    tree = parse_html(
        "<html><body><h1>Headline</h1>" + story * 3 + "<div class='meta'><span>By</span>"
        "<span>Daryl Austin</span></div></body></html>"
    )
    assert read_visible_meta(tree).authors == ["Daryl Austin"]
    tree = parse_html(
        "<html><body><h1>Headline</h1>" + story * 3 + "<div><img src='a.jpg' alt>"
        "<p>Written by John Crenshaw</p></div></body></html>"
    )
    assert read_visible_meta(tree).authors == ["John Crenshaw"]
    tree = parse_html(
        "<html><body><h1>Headline</h1>" + story * 3 + "<div class='x'><div class='name'>"
        "Written by <span>Meghan Neville</span></div><div>Content writer</div></div></body></html>"
    )
    assert read_visible_meta(tree).authors == ["Meghan Neville"]
    # The same label in a comment section names a commenter, not the author.
    tree = parse_html(
        "<html><body><h1>Headline</h1>" + story * 3 + "<div class='comments'>"
        "<p>Written by Some Reader</p></div></body></html>"
    )
    assert read_visible_meta(tree).authors == []
    assert split_authors(["The Upwork Team", "Resy Staff"]) == ["The Upwork Team", "Resy Staff"]
    assert split_authors(["Editorial Team", "Senior Staff", "Staff Writer", "Team"]) == []


def test_byline_names_lose_glued_dates_roles_and_portraits() -> None:
    from pipelines.metadata import read_visible_meta

    assert split_authors(["Luke Kim December", "Ann Lee on Jan", "Jacob Trussell—"]) == [
        "Luke Kim",
        "Ann Lee",
        "Jacob Trussell",
    ]
    assert split_authors(["Dec", "The Author", "David Gracey Headshot", "Member Login"]) == []
    # A surname that is a month stays.
    assert split_authors(["Theresa May", "June Smith"]) == ["Theresa May", "June Smith"]
    # Name and role in adjacent elements with no space between them are not glued together.
    tree = parse_html(
        "<html><body><h1>Headline</h1><div class='author'><span>Kendall Breitman</span>"
        "<span class='x'>Social Media</span></div><p>" + "story " * 60 + "</p></body></html>"
    )
    assert read_visible_meta(tree).authors == ["Kendall Breitman"]


def test_markup_after_a_second_html_element_is_kept_in_the_body() -> None:
    # A template that prints a whole page after the first one's </html>: lxml makes the second
    # <html> a sibling of the root, outside the tree everything else walks.
    tree = parse_html(
        "<html><head><title>T</title></head><body><p>menu</p></body></html>"
        "<html><body><div id='story'><p>First paragraph of the story.</p></div></body></html>"
    )
    assert tree.find("body").find(".//div[@id='story']") is not None
    assert "First paragraph of the story." in tree.find("body").text_content()


def test_reviewers_and_the_outlet_are_not_authors() -> None:
    from pipelines.metadata import read_visible_meta

    tree = parse_html(
        "<html><body><h1>Stocks</h1><div class='byline'>By <a href='/author/1/'>Scott Levine"
        "</a> - Updated Sep 9, 2025 | Fact-checked by <a href='/author/2/'>Frank Bass</a></div>"
        "<p>" + "story " * 60 + "</p></body></html>"
    )
    assert read_visible_meta(tree).authors == ["Scott Levine"]
    head = (
        '<html><head><meta property="og:site_name" content="The Daily Courier">'
        '<script type="application/ld+json">{"@type": "NewsArticle", "author": {"@type": '
        '"Person", "name": "%s"}}</script></head><body></body></html>'
    )
    signed = read_page_meta(parse_html(head % "Jane Roe and John Doe, The Daily Courier"))
    assert signed.authors == ["Jane Roe", "John Doe"]
    # Signed by the outlet alone: that is the signature there is.
    assert read_page_meta(parse_html(head % "The Daily Courier")).authors == ["The Daily Courier"]


def test_author_named_by_a_data_attribute() -> None:
    from pipelines.metadata import read_visible_meta

    tree = parse_html(
        "<html><body><h1>Headline</h1><p>" + "story words " * 40 + "</p>"
        "<div><span data-tooltip-id='post-author-21' class='line-clamp-1'>Elise Nass</span></div>"
        "</body></html>"
    )
    assert read_visible_meta(tree).authors == ["Elise Nass"]


def test_headline_skips_home_links_and_chrome_and_the_logo_names_the_site() -> None:
    from pipelines.metadata import read_visible_meta

    story = "<p>" + "Text of the article. " * 20 + "</p>"
    # The logo links home; the story's own heading is an <h2> worded unlike the <title>.
    tree = parse_html(
        "<html><head><title>Quiet Notes: Week two of the puzzles</title></head><body>"
        "<div class='title'><h1><a href='/'>Quiet Notes</a></h1></div>"
        f"<div class='body'><h1><a href='/puzzles/7'>Day 7</a></h1>{story}</div></body></html>"
    )
    found = read_visible_meta(tree, "Quiet Notes: Week two of the puzzles")
    assert found.logo == "Quiet Notes"
    assert found.headline == "Day 7"
    # A subscription overlay's and a footer's <h1> are longer than the story's, not chosen.
    tree = parse_html(
        "<html><head><title>Movers compared</title></head><body><main><article>"
        f"<h1>Best movers in the city this year</h1>{story}</article></main>"
        "<div class='subscribe-overlay'><h1>Subscribe to our newsletter for news and events</h1>"
        "</div><footer><h1>Copyright 2009-2021 Example Media Limited, all rights reserved</h1>"
        "</footer></body></html>"
    )
    assert read_visible_meta(tree, "Movers compared").headline == (
        "Best movers in the city this year"
    )
    # A link to a page, not home, is not a logo.
    tree = parse_html(
        "<html><body><h1><a href='/news/port-strike'>Port strike deepens</a></h1>"
        f"{story}</body></html>"
    )
    found = read_visible_meta(tree, "Port strike deepens")
    assert found.logo is None and found.headline == "Port strike deepens"


def test_bylines_in_a_utility_classed_column_and_in_the_articles_own_footer() -> None:
    from pipelines.metadata import is_elsewhere, read_visible_meta

    story = "<p>" + "Text of the article. " * 20 + "</p>"
    # "md:[grid-area:sidebar]" places a column on wide screens; it is not a sidebar.
    tree = parse_html(
        "<html><body><article class='grid md:grid-rows-[auto_1fr]'><h1>Catering trends</h1>"
        "<div class='mb-6 md:[grid-area:sidebar]'><div><p>Written by</p><p>Edna Tabor</p>"
        f"</div></div>{story}</article></body></html>"
    )
    assert read_visible_meta(tree, "Catering trends").authors == ["Edna Tabor"]
    # "Posted by … on …" in the article's own footer is its byline; the page footer's is not.
    tree = parse_html(
        f"<html><body><main><article><h1>Preparing a transition</h1>{story}"
        "<footer><p>Posted by Colm Walsh on 2025-12-18 in tools.</p></footer></article></main>"
        "</body></html>"
    )
    assert read_visible_meta(tree, "Preparing a transition").authors == ["Colm Walsh"]
    tree = parse_html(
        f"<html><body><article><h1>Preparing a transition</h1>{story}<footer><p>Posted by "
        "<a href='/blog/author/colm-walsh.html'>Colm Walsh</a> on <time>2025-12-18</time></p>"
        "</footer></article></body></html>"
    )
    assert read_visible_meta(tree, "Preparing a transition").authors == ["Colm Walsh"]
    tree = parse_html(
        f"<html><body><article><h1>Preparing a transition</h1>{story}</article>"
        "<footer><p>Posted by Colm Walsh on 2025-12-18 in tools.</p></footer></body></html>"
    )
    assert read_visible_meta(tree, "Preparing a transition").authors == []
    footer_p = tree.find(".//footer/p")
    assert is_elsewhere(footer_p) and is_elsewhere(footer_p, article_footer=True)
    # A sidebar still is one, however its classes are written.
    tree = parse_html("<html><body><div class='sidebar md:w-1/3'><p>x</p></div></body></html>")
    assert is_elsewhere(tree.find(".//p"))


def test_markup_authors_win_over_a_printed_byline_that_names_no_person() -> None:
    from pipelines.metadata import choose_authors

    outlets = {"daily meridian"}
    # Agreeing in part: the printed byline, which names more people.
    assert choose_authors(["Jane Roe", "Sam Poe"], ["Jane Roe"], outlets) == ["Jane Roe", "Sam Poe"]
    # No one in common, and the printed one is no person's name.
    for printed in (["Microsoft to Adobe"], ["Fact checked by Ann Lee"], ["Stacey"]):
        assert choose_authors(printed, ["Camila Karr"], outlets) == ["Camila Karr"]
    # The markup names the outlet only, or both are names: the printed byline stands.
    assert choose_authors(["Tracy Parker", "Dietitian"], ["Daily Meridian"], outlets) == [
        "Tracy Parker",
        "Dietitian",
    ]
    assert choose_authors(["Paul Fenn"], ["Luke Dale"], outlets) == ["Paul Fenn"]
    assert choose_authors([], ["Luke Dale"], outlets) == ["Luke Dale"]
    # Through extraction: JSON-LD names the writer, the "byline" is a section label.
    story = "".join(
        f"<p>{'Text of the article about the weekly market. ' * 6}</p>" for _ in range(4)
    )
    html = (
        '<html><head><script type="application/ld+json">{"@type": "NewsArticle", '
        '"headline": "Markets week", "author": {"@type": "Person", "name": "Camila Karr"}}'
        "</script></head><body><article><h1>Markets week</h1><div class='byline'>By Theory to "
        f"Practice</div>{story}</article></body></html>"
    )
    from pipelines.extract import extract_article

    record = extract_article(html.encode(), "https://news.example/markets-week")
    assert record is not None and record["authors"] == ["Camila Karr"]


def test_a_name_printed_twice_with_its_role_glued_on_is_one_author() -> None:
    assert split_authors(["Matt CheckHead Winemaker", "Matt Check"]) == ["Matt Check"]
    # A first name alone does not swallow the full name, nor two people sharing one.
    assert split_authors(["Jo", "Jo Smith"]) == ["Jo", "Jo Smith"]
    assert split_authors(["Ann Lee", "Bea Lee"]) == ["Ann Lee", "Bea Lee"]
    from pipelines.metadata import choose_authors

    # "On Bluesky" is a link's text, no name: the markup's author wins.
    assert choose_authors(["On Bluesky"], ["Christa Penn"], set()) == ["Christa Penn"]
    # A role glued on in print: the markup's clean name; a second printed author stays.
    assert choose_authors(
        ["Kendall BreitmanSocial Media", "Ann Lee"], ["Kendall Breitman"], set()
    ) == ["Kendall Breitman", "Ann Lee"]
    # A longer surname is another name, not a role glued on.
    assert choose_authors(["Jo Smithson"], ["Jo Smith"], set()) == ["Jo Smithson"]


def test_builder_widgets_are_not_sidebars_and_reviewers_are_not_authors() -> None:
    from pipelines.metadata import is_elsewhere, read_visible_meta

    story = "<p>" + "Text of the article. " * 20 + "</p>"
    # Every block of a page builder is a "…-widget-container": the byline in one still counts.
    tree = parse_html(
        f"<html><body><article><h1>Habits of savers</h1>{story}"
        "<div class='builder-widget builder-widget-text'><div class='builder-widget-container'>"
        "<h3>Written by Cass Horne</h3><p>Cass writes about money.</p></div></div>"
        "</article></body></html>"
    )
    assert read_visible_meta(tree, "Habits of savers").authors == ["Cass Horne"]
    # A sidebar's widgets are still a sidebar's.
    tree = parse_html(
        "<html><body><div class='widget widget_recent_entries'><p>x</p></div>"
        "<div class='widget-area'><p>y</p></div></body></html>"
    )
    assert all(is_elsewhere(p) for p in tree.iter("p"))
    # The author box is the reviewer's, named as such in the byline: no author, not him.
    tree = parse_html(
        "<html><body><article><h1>Tips for savers</h1>"
        "<ul class='post-info'><li><span>Reviewed by: Brian Storm, CFP</span></li></ul>"
        f"{story}<div class='author-box'><a href='/team/brian-storm/'>Brian Storm</a></div>"
        "</article></body></html>"
    )
    assert read_visible_meta(tree, "Tips for savers").authors == []


def test_contributors_label_and_the_outlet_after_the_printed_names() -> None:
    from pipelines.metadata import choose_authors, read_visible_meta

    story = "<p>" + "Text of the article. " * 20 + "</p>"
    for byline in (
        "<div class='tags'><div><strong>Contributors:</strong> Janet Lough</div></div>",
        "<div class='credits'><p>Contributor: Janet Lough</p></div>",
    ):
        tree = parse_html(
            f"<html><body><article><h1>Plants for dim rooms</h1>{story}{byline}</article>"
            "</body></html>"
        )
        assert read_visible_meta(tree, "Plants for dim rooms").authors == ["Janet Lough"]
    # The outlet printed after the writer goes; printed alone, it stays.
    outlets = {"modern farmer"}
    assert choose_authors(["Emily Cad", "Modern Farmer"], [], outlets) == ["Emily Cad"]
    assert choose_authors(["Modern Farmer"], [], outlets) == ["Modern Farmer"]


def test_a_name_printed_beside_the_date_in_an_author_element() -> None:
    from pipelines.metadata import read_visible_meta

    story = "<p>" + "story " * 60 + "</p>"

    def authors(byline: str) -> list[str]:
        page = f"<html><body><h1>Headline</h1>{byline}{story}</body></html>"
        return read_visible_meta(parse_html(page)).authors

    # The date and what the writer signs for go; the link is the team's, not the author.
    assert authors(
        "<div class='publish-date-author'>Dec. 19, 2025 &middot; Niko Matsakis on behalf of "
        "<a href='https://site.example/teams/docs'>Docs group</a></div>"
    ) == ["Niko Matsakis"]
    assert authors("<div class='post-author'>Jane Roe | 3 March 2026</div>") == ["Jane Roe"]
    # Words of the date line are not a name.
    assert authors("<div class='byline'><span>Fact Checked</span> Dec 3, 2025</div>") == []
    # A link to an author page still names the author, labels beside it do not.
    assert authors(
        "<div class='author-byline'><a href='/author/hns/'>Help Net Security</a>"
        "<span>Sponsored</span> December 2, 2025</div>"
    ) == ["Help Net Security"]


def test_camel_case_css_module_classes_mark_the_byline() -> None:
    from pipelines.metadata import read_visible_meta

    page = (
        "<html><body><h1>Headline</h1><div class='styles_dateAndAuthorContainer__x1'>"
        "<span>Dec 17, 2025</span><span>Julian K. Arni</span></div>"
        "<p>" + "story " * 60 + "</p></body></html>"
    )
    assert read_visible_meta(parse_html(page)).authors == ["Julian K. Arni"]
    # A camelCase class that only contains the letters of "author" is no byline.
    page = page.replace("styles_dateAndAuthorContainer__x1", "styles_coauthoredNotes__x1")
    assert read_visible_meta(parse_html(page)).authors == []


def test_a_person_icon_before_a_name_marks_the_byline() -> None:
    from pipelines.metadata import read_visible_meta

    def authors(icon: str) -> list[str]:
        page = (
            "<html><body><h1>Headline</h1><div class='entry-meta'><ul>"
            f"<li><i class='{icon}'></i> Bence Kovacs</li>"
            "<li><i class='bi bi-clock'></i><time datetime='2025-12-02'>02-12-2025</time></li>"
            "</ul></div><p>" + "story " * 60 + "</p></body></html>"
        )
        return read_visible_meta(parse_html(page)).authors

    assert authors("bi bi-person") == ["Bence Kovacs"]
    assert authors("fa fa-user") == ["Bence Kovacs"]
    # Another icon does not make the line a byline.
    assert authors("bi bi-folder") == []


def test_author_box_name_before_its_description_and_a_portrait_named_after_the_writer() -> None:
    from pipelines.metadata import read_visible_meta

    story = "<p>" + "story " * 60 + "</p>"
    # The description of the author is no name; the name printed before it is.
    page = (
        f"<html><body><h1>Headline</h1>{story}<div class='box'><p>Asser Christensen</p>"
        "<div class='dynamic-author-description'>Licensed Q Arabica Grader, M.A. Journalism"
        "</div></div></body></html>"
    )
    assert read_visible_meta(parse_html(page)).authors == ["Asser Christensen"]

    def byline(src: str) -> list[str]:
        page = (
            f"<html><body><h1>Headline</h1><p><img src='{src}'><span>Julia Gralberg</span></p>"
            f"{story}</body></html>"
        )
        return read_visible_meta(parse_html(page)).authors

    assert byline("/uploads/2017/03/Julia-Gralberg-2.jpg") == ["Julia Gralberg"]
    # A photo of something else does not make two capitalised words a byline.
    assert byline("/uploads/2017/03/hotel-lobby.jpg") == []
