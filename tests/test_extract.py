from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from pipelines.extract import extract_article
from tests.scoring import corpus_scores, leaks, norm, page_counts

PARAS = [
    "The city council voted on Tuesday to approve the construction of a new flood barrier "
    "along the river, ending a decade of delays and disputes over its cost.",
    "Engineers said the barrier would protect more than forty thousand homes from the kind of "
    "surge that flooded the old town twice in the last five years.",
    "Opponents argued that the money would be better spent on moving vulnerable households, "
    "but the motion passed by eleven votes to four after a long debate.",
]


def page(title: str = "Council approves flood barrier | Daily Meridian", extra: str = "") -> bytes:
    body = "".join(f"<p>{p}</p>" for p in PARAS)
    return (
        f'<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        '<meta property="og:site_name" content="Daily Meridian"></head>'
        "<body><article><h1>Council approves flood barrier</h1>"
        f"{body}{extra}</article></body></html>"
    ).encode()


def test_record_fields() -> None:
    record = extract_article(page(), "https://news.example/2026/11/26/flood-barrier.html")
    assert record is not None
    assert record["title"] == "Council approves flood barrier"
    assert record["site_name"] == "Daily Meridian"
    assert record["language"] == "en"
    for para in PARAS:
        assert para in record["text"].split("\n")
    assert record["word_count"] == len(record["text"].split())
    assert len(record["text_sha1"]) == 40
    assert record["extractor"]["name"] == "trafilatura"


@pytest.mark.parametrize(
    "body",
    [b"", b"\x00\x01\x02" * 1000, os.urandom(20_000), b"<html><body><p>unclosed <b>tag"],
)
def test_broken_input_gives_none_or_a_record_never_an_exception(body: bytes) -> None:
    result = extract_article(body, "https://news.example/x")
    assert result is None or isinstance(result["text"], str)


def test_truncated_page_keeps_what_arrived() -> None:
    data = page()
    cut = data[: data.index(PARAS[2].encode()[:40].decode().encode())]
    record = extract_article(cut, "https://news.example/2026/11/26/flood-barrier.html")
    assert record is not None and PARAS[0] in record["text"]


def test_url_defaults_to_the_canonical_link() -> None:
    data = page().replace(
        b"</head>", b'<link rel="canonical" href="https://news.example/a/1"></head>'
    )
    record = extract_article(data, None)
    assert record is not None and record["canonical_url"] == "https://news.example/a/1"


# --- the fixture corpus: every page is a test -------------------------------------------------

CORPUS = Path(__file__).parent / "fixtures/extraction"
GOLD = sorted((CORPUS / "gold").glob("*.json"))
# A second corpus, written independently of the code and of the first one, and a third of
# hard cases for removing too much (link-dense paragraphs, lists of linked findings, tables).
VALIDATION = sorted((Path(__file__).parent / "fixtures/validation/gold").glob("*.json"))
HARDCASES = sorted((Path(__file__).parent / "fixtures/hardcases/gold").glob("*.json"))
# A fourth, in the markup families of large publishers (English, Arabic, French).
PUBLISHERS = sorted((Path(__file__).parent / "fixtures/publishers/gold").glob("*.json"))
ALL_GOLD = GOLD + VALIDATION + HARDCASES + PUBLISHERS


@pytest.mark.parametrize("gold_path", ALL_GOLD, ids=[g.stem for g in ALL_GOLD])
def test_corpus_page(gold_path: Path) -> None:
    gold = json.loads(gold_path.read_text("utf-8"))
    page = (gold_path.parent.parent / "pages" / gold_path.stem).with_suffix(".html").read_bytes()
    record = extract_article(page, gold["url"])
    assert record is not None
    # No related headline may reach the text, whatever the markup.
    assert leaks(record["text"], gold["related_headlines"]) == []
    # Text within tolerance of the gold: recall 0.9 and precision 0.85 on 4-word shingles allow
    # a merged line or a stray caption, but not a lost paragraph of a 10-paragraph article or a
    # leaked box of boilerplate. The lowest page measured is above 0.93 / 0.90.
    tp, fp, fn = page_counts(gold["text"], record["text"])
    assert tp / (tp + fn) >= 0.9, "recall"
    assert tp / (tp + fp) >= 0.85, "precision"
    assert norm(record["title"]) == norm(gold["title"])
    assert (record["published"] or "")[:10] == gold["published"][:10]
    assert sorted(map(norm, record["authors"])) == sorted(map(norm, gold["authors"]))
    assert record["language"] == gold["language"]
    assert "\ufffd" not in record["text"]
    # Sentences that merely contain links must survive the cleaner.
    for sentence in gold.get("must_keep", []):
        assert norm(sentence) in norm(record["text"]), sentence


def test_corpus_beats_plain_trafilatura() -> None:
    """The issue's targets on the corpus: recall at least plain trafilatura's, F1 above it."""
    import trafilatura

    ours, plain = [], []
    for gold_path in GOLD:
        gold = json.loads(gold_path.read_text("utf-8"))
        page = (CORPUS / "pages" / gold_path.stem).with_suffix(".html").read_bytes()
        record = extract_article(page, gold["url"])
        ours.append(page_counts(gold["text"], record["text"] if record else ""))
        text = trafilatura.extract(page, url=gold["url"]) or ""
        plain.append(page_counts(gold["text"], text))
    a, b = corpus_scores(ours), corpus_scores(plain)
    assert a["recall"] >= b["recall"] and a["f1"] > b["f1"], (a, b)


def test_mojibake_in_the_page_is_repaired() -> None:
    arabic = [
        "قالت السفارة الأمريكية في ليبيا إن الزيارة مخطط لها منذ فترة طويلة وتهدف للأمن.",
        "وأضافت أن اللقاء ناقش التزام الولايات المتحدة بتعزيز شراكتها مع الليبيين.",
        "وجاء اللقاء بعد يوم من استقبال حفتر القائمة بأعمال رئيس بعثة الأمم المتحدة.",
    ]
    # A CMS that once read UTF-8 as Latin-1 and stored the result: valid UTF-8 of mojibake.
    broken = [p.encode("utf-8").decode("latin-1") for p in arabic]
    html = (
        "<html><body><article>"
        + "".join(f"<p>{b}</p>" for b in broken)
        + "</article></body></html>"
    )
    record = extract_article(html.encode("utf-8"), "https://news.example/a/1")
    assert record is not None
    assert arabic[0][:30] in record["text"] and "Ø" not in record["text"]
    assert record["quality"]["mojibake_fixed"] is True


# --- No crash on any input ----------------------------------------------------------------------

FIXTURE_PAGES = sorted(Path(__file__).parent.glob("fixtures/*/pages/*.html"))
URL = "https://news.example/2026/11/26/flood-barrier.html"


def test_comment_in_a_byline_does_not_crash() -> None:
    # A comment where an element is expected made text_content() raise on a real page.
    extra = "<div class='byline'>By <!-- author --><span>Jane Roe</span><!--x--></div>"
    body = page().replace(
        b"<h1>Council approves flood barrier</h1>",
        b"<h1>Council approves flood barrier</h1>" + extra.encode(),
    )
    record = extract_article(body, URL)
    assert record is not None
    assert record["authors"] == ["Jane Roe"]
    assert PARAS[0] in record["text"]


def test_control_characters_are_dropped_not_fatal() -> None:
    # One backspace in a list item emptied a real page; NUL bytes too.
    extra = "<ul><li>First\x08 point of the plan</li><li>Second\x00 point</li></ul>"
    record = extract_article(page(extra=extra), URL)
    assert record is not None
    assert all(para in record["text"] for para in PARAS)
    assert "\x08" not in record["text"] and "\x00" not in record["text"]
    assert "quality" in record and "fallback" not in record["quality"]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"<!-- only a comment -->",
        b"<?php echo 1; ?>",
        b"\x00" * 64,
        b"<html><head><title>x</title></head></html>",
        b"<frameset><frame src=a></frameset>",
    ],
)
def test_degenerate_documents_give_no_article(body: bytes) -> None:
    assert extract_article(body, URL) is None


def test_binary_data_does_not_raise() -> None:
    record = extract_article(bytes(range(256)) * 64, URL, content_type="text/html")
    assert record is None or "\x00" not in record["text"]


def test_processing_instructions_and_entities_where_elements_are_expected() -> None:
    extra = (
        "<?xml-stylesheet href='a.css'?><div><?php x ?>&nbsp;&#0;&#xD800;&#1114112;&bogus;"
        "<h2>A sub-heading<?pi?></h2><p>" + PARAS[0] + "<!--c--></p></div>"
    )
    record = extract_article(page(extra=extra), URL)
    assert record is not None
    assert PARAS[1] in record["text"]


def test_deep_nesting_does_not_crash() -> None:
    deep = "<div>" * 5000 + "<p>" + PARAS[0] + "</p>" + "</div>" * 5000
    record = extract_article(page(extra=deep), URL)
    assert record is not None
    assert PARAS[1] in record["text"]


def test_cleaning_failure_falls_back_to_plain_extraction(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines import extract

    def broken(tree: object, url: str) -> None:
        raise TypeError("Input object is not an XML element: HtmlComment")

    monkeypatch.setattr(extract, "remove_related_links", broken)
    record = extract_article(page(), URL)
    assert record is not None
    assert record["quality"]["fallback"].startswith("TypeError: Input object")
    assert all(para in record["text"] for para in PARAS)


_INSERTS = [
    b"<!-- c -->",
    b"<?php echo 1; ?>",
    b"<?xml version='1.0'?>",
    b"&nbsp;",
    b"&#0;",
    b"&#x8;",
    b"\x00",
    b"\x08",
    b"\x0b",
    b"\x1b",
    b"</div>",
    b"<div>",
    b"</p></p>",
    b"<![CDATA[x]]>",
    b"<!DOCTYPE html>",
    b"</body></html>",
    b"<html>",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b'<a href="',
    b"<!--",
    b"-->",
    b"<script>",
    b"&#xD800;",
    b"<svg><title>t</title></svg>",
    b"\r",
    b"<table><tr><td>",
    b"</td></tr></table>",
    b'<time datetime="2026-99-99">',
    b'<meta property="article:published_time" content="garbage">',
    b'<script type="application/ld+json">{"@type":"NewsArticle","author":[null,{"name":[1]}],'
    b'"datePublished":{"x":1},"headline":7}</script>',
]


def _mutate(body: bytes, rng: random.Random) -> bytes:
    for _ in range(rng.randint(1, 6)):
        if not body:
            break
        at = rng.randrange(len(body))
        kind = rng.random()
        if kind < 0.15:
            body = body[:at]  # truncated download
        elif kind < 0.35:
            start = body.find(b"<", at)
            end = body.find(b">", start)
            if start >= 0 and end > start:
                body = body[:start] + body[end + 1 :]  # a tag dropped
        elif kind < 0.7:
            body = body[:at] + rng.choice(_INSERTS) + body[at:]
        elif kind < 0.85:
            flipped = bytearray(body)
            for _ in range(rng.randint(1, 20)):
                flipped[rng.randrange(len(flipped))] = rng.randrange(256)
            body = bytes(flipped)
        else:
            body = body[:at] + bytes(rng.randrange(32) for _ in range(5)) + body[at:]
    return body


@pytest.mark.parametrize("seed", range(4))
def test_fuzzed_fixture_pages_never_raise(seed: int) -> None:
    """Every fixture page, mutated: truncated, tags dropped, comments, PIs and bytes inserted."""
    rng = random.Random(seed)
    types = [None, "text/html", "text/html; charset=windows-1256", "text/html; charset=bogus"]
    for path in FIXTURE_PAGES:
        original = path.read_bytes()
        body = _mutate(original, rng)
        record = extract_article(body, URL, content_type=rng.choice(types))
        assert record is None or isinstance(record["text"], str)


# --- Calls to action and page chrome inside the article -------------------------------------


def test_calls_to_action_and_controls_are_not_article_text() -> None:
    chrome = [
        "Sign up for our weekly newsletter",
        "Subscribe now",
        "Share this article",
        "Follow us on Instagram",
        "Back to blog",
        "Next article: Council delays the vote",
        "5 min read",
        "Written by Jane Roe",
        "Photo by John Doe via Example Images",
        "Abonnez-vous à notre lettre",
        "اشترك الآن في النشرة البريدية",
        "🚀 Sign up for The Daily newsletter",
        "Advertisement: New Book Out Now!",
        "Talk to our marketing experts",
    ]
    keep = (
        "Subscribers to the city's flood alert service said the warnings came too late for "
        "most households on the lower terraces, according to the council's own review."
    )
    also_kept = "Recent posts on the council's forum show that residents asked for the alerts."
    closing = (
        "This newsletter is written by volunteers. If you liked this article, please consider "
        "sharing it and subscribing to our weekly newsletter."
    )
    asks = (
        "The review will be published in March, the council said. Sign up for our newsletter "
        "for the best of the city."
    )
    extra = (
        "".join(f"<p>{line}</p>" for line in chrome)
        + f"<p>{keep}</p><p>{also_kept}</p><p>{asks}</p><p>{closing}</p>"
    )
    record = extract_article(page(extra=extra), URL)
    assert record is not None
    lines = record["text"].split("\n")
    assert keep in lines
    assert also_kept in lines
    assert all(para in lines for para in PARAS)
    for line in chrome:
        assert line not in lines
    # The sign-up sentence goes, the paragraph's own sentence stays; the closing ask goes.
    assert "The review will be published in March, the council said." in lines
    assert "Sign up for our newsletter" not in record["text"]
    assert "please consider" not in record["text"]


def test_article_printed_after_a_second_html_element_is_extracted() -> None:
    from pipelines.extract import extract_article

    story = "".join(
        f"<p>Paragraph {n} of the story tells what happened at the meeting in some detail.</p>"
        for n in range(12)
    )
    page = (
        "<html><head><title>Story</title></head><body><nav><a href='/'>Home</a></nav>"
        "</body></html><html><body><div class='blog-content'>" + story + "</div></body></html>"
    )
    record = extract_article(page.encode(), "https://news.example/a/1")
    assert record is not None
    assert "Paragraph 11 of the story" in record["text"]


def test_subheading_alone_in_its_wrapper_is_kept_but_not_a_promo_boxs() -> None:
    from pipelines.extract import extract_article

    section = (
        "The second phase of the works will start in the spring, once the river is low "
        "enough for the crews to reach the old embankment safely."
    )
    extra = (
        "<div class='title-wrapper'><h2>What happens next</h2></div>"
        f"<div class='text'><p>{section}</p></div>"
    )
    record = extract_article(page(extra=extra), URL)
    assert record is not None
    lines = record["text"].split("\n")
    assert lines[lines.index(section) - 1] == "What happens next"
    # Climbing out of a wrapper never puts back the heading of a box of the latest posts.
    from pipelines.extract import _with_subheadings
    from pipelines.metadata import parse_html

    tree = parse_html(
        "<html><body><div class='latest-posts'><div><h3>Explore the latest insights</h3></div>"
        f"<div><p>{section}</p></div></div></body></html>"
    )
    assert _with_subheadings(tree, [section]) == [section]
    tree = parse_html(
        "<html><body><div class='story'><div><h3>What happens next</h3></div>"
        f"<div><p>{section}</p></div></div></body></html>"
    )
    assert _with_subheadings(tree, [section]) == ["What happens next", section]


def test_title_in_capitals_yields_to_the_declared_title() -> None:
    from pipelines.extract import _choose_title

    assert (
        _choose_title("Best Drip Coffee Maker 2026: Buying Tips", "BEST DRIP COFFEE MAKER", None)
        == "Best Drip Coffee Maker 2026: Buying Tips"
    )
    # Both in capitals, or no declared title: the printed headline stands.
    assert _choose_title("CONSULTING NEWS", "ACTUARIAL CONSULTING VS. INSURANCE", None) == (
        "ACTUARIAL CONSULTING VS. INSURANCE"
    )
    assert _choose_title(None, "WEEKEND CODING AGENT", None) == "WEEKEND CODING AGENT"
    assert _choose_title("Council votes", "Council approves flood barrier", None) == (
        "Council approves flood barrier"
    )


def test_title_with_no_word_of_the_declared_one_yields_and_the_logo_is_stripped() -> None:
    from pipelines.extract import _choose_title

    # The <h1> found is a file name or a widget's heading: not one word of the page's title.
    assert _choose_title("How we found the leak", "writeup.md", None) == "How we found the leak"
    # One word in common, or a title guessed from that heading (not declared): it stands.
    assert _choose_title("Leak report", "How we found the leak", None) == "How we found the leak"
    assert _choose_title("Antoine's Blog", "Progress report 39", None, own=False) == (
        "Progress report 39"
    )
    # The declared title is only the site's name: the headline stands.
    assert _choose_title("Robomow", "Which mower for which lawn?", "Robomow") == (
        "Which mower for which lawn?"
    )
    page = (
        "<html><head><meta property='og:title' content='Quiet Notes: Week two of the puzzles'>"
        "</head><body>"
        "<div class='title'><h1><a href='/'>Quiet Notes</a></h1></div><div class='body'>"
        "<h1><a href='/puzzles/7'>Day 7</a></h1>"
        + "<p>The seventh puzzle asked for a beam splitter simulation on a grid. </p>" * 6
        + "</div></body></html>"
    )
    record = extract_article(page.encode(), "https://notes.example/2025/week-2")
    assert record is not None and record["title"] == "Week two of the puzzles"
    from pipelines.extract import _strip_logo

    assert _strip_logo("Week two of the puzzles | Quiet Notes", "Quiet Notes") == (
        "Week two of the puzzles"
    )
    assert _strip_logo("Quiet Notesbook reviewed", "Quiet Notes") == "Quiet Notesbook reviewed"
    assert _strip_logo("Quiet Notes", "Quiet Notes") == "Quiet Notes"


def test_mojibake_written_as_entities_is_repaired() -> None:
    # "’" once read as cp1252 and stored as entities: only the parser sees the mojibake.
    paras = "".join(
        f"<p>{p.replace(chr(39), '&acirc;&euro;&trade;')} It&acirc;&euro;&trade;s said.</p>"
        for p in PARAS
    )
    body = f"<html><body><article><h1>Flood barrier</h1>{paras}</article></body></html>"
    record = extract_article(body.encode(), URL)
    assert record is not None
    assert "â€" not in record["text"] and "It’s said." in record["text"]
    assert record["quality"]["mojibake_fixed"] is True


def test_a_list_of_other_posts_after_the_article_is_cut_from_its_label_on() -> None:
    teasers = (
        "<h3>Recent posts:</h3>"
        "<div class='card'><p>Learn how to type children props in a component library, with "
        "examples for every case a reader meets and notes on the older patterns.</p></div>"
        "<div class='card'><p>Learn how to translate an application into many languages, "
        "covering routing, detection of the reader's locale and switching between them.</p></div>"
    )
    record = extract_article(page(extra=teasers), URL)
    assert record is not None
    lines = record["text"].split("\n")
    assert lines[-1] == PARAS[-1]
    assert not any("Recent posts" in line or line.startswith("Learn how") for line in lines)
    # The same label early in the text is a heading of the story: nothing is cut there.
    from pipelines.extract import _without_tail

    story = ["Recent posts", *PARAS]
    assert _without_tail(story) == story
    # "Explore more" heading teasers at the end goes with them.
    teaser = "Research has shown that an ergonomic mouse can promote a more upright hand."
    assert _without_tail([*PARAS, "Explore more", "Is an Ergonomic Mouse Better?", teaser]) == PARAS
    # A series' "Up next" at the end belongs to the article.
    assert _without_tail([*PARAS, "Up Next", "Best video cameras"])[-1] == "Best video cameras"
    # A menu's "Latest News" heads sections, not posts: the text after it stays.
    menu = [*PARAS, "Latest News", "World", "Cities", *PARAS]
    assert _without_tail(menu) == menu
    # Printed in the text's first half the label alone is dropped; the story after it stays.
    body = "".join(f"<p>{p}</p>" for p in PARAS)
    early = (
        "<html><body><article><h1>Council approves flood barrier</h1>"
        f"<p>Recent posts:</p>{body}</article></body></html>"
    ).encode()
    record = extract_article(early, URL)
    assert record is not None
    assert record["text"].split("\n") == PARAS


def test_minor_headings_h5_h6_are_put_back_before_their_paragraph() -> None:
    from pipelines.extract import _with_subheadings
    from pipelines.metadata import parse_html

    tip = "Buy staples in bulk and keep them in jars, so that less packaging reaches the bin."
    tree = parse_html(
        "<html><body><article><div class='item'><div class='text-wrap'>"
        f"<h6>1. Buy in bulk</h6><div class='rich'><p>{tip}</p></div></div></div>"
        "</article></body></html>"
    )
    assert _with_subheadings(tree, [tip]) == ["1. Buy in bulk", tip]


def test_more_calls_to_action_and_disclosures_are_not_article_text() -> None:
    chrome = [
        "Join our mailing list",
        "Join the Facebook group",
        "Book a demo",
        "Request a Quote",
        "Get started today",
        "Take the next step",
        "As an Amazon Associate we earn from qualifying purchases.",
        "This story is funded by readers like you",
        "Did you make one of my recipes? Please take a moment to leave a star rating.",
        "Table of Contents",
        "Jump to the list",
        "Page 1 of 8",
    ]
    keep = (
        "Join the protest, the union told its members, if the council refuses to reopen the "
        "talks on pay before the end of the month."
    )
    extra = "".join(f"<p>{line}</p>" for line in chrome) + f"<p>{keep}</p>"
    record = extract_article(page(extra=extra), URL)
    assert record is not None
    lines = record["text"].split("\n")
    assert keep in lines and all(para in lines for para in PARAS)
    assert not set(chrome) & set(lines)


def test_a_headline_that_goes_on_past_the_declared_title_is_kept_noise_is_not() -> None:
    from pipelines.extract import _choose_title

    declared = "Plumbing Maintenance Tips: 11 Best Practices"
    # The headline carries words of its own: a subtitle, the rest of the sentence.
    for printed in (
        "Plumbing Maintenance Tips: 11 Best Practices to Prevent Leaks",
        "My Plumbing Maintenance Tips: 11 Best Practices for the Winter",
    ):
        assert _choose_title(declared, printed, None) == printed
    # Noise around the declared title: a date, "Posted … by", the site after a separator, a
    # section label, a bare article.
    for printed in (
        "Plumbing Maintenance Tips: 11 Best Practices Posted on July 1, 2024 by admin",
        "Dec 18 2025 Plumbing Maintenance Tips: 11 Best Practices",
        "Plumbing Maintenance Tips: 11 Best Practices – Pipe Weekly",
        "Blog: Plumbing Maintenance Tips: 11 Best Practices",
        "The Plumbing Maintenance Tips: 11 Best Practices",
    ):
        assert _choose_title(declared, printed, None) == declared


def test_list_items_broken_by_line_breaks_are_kept_once_and_apart() -> None:
    items = "".join(
        f"<li><p><span>{name}</span><span><br></span><span>Price:</span><span> ${price}</span>"
        f"<span><br></span><span>{why}</span></p></li>"
        for name, price, why in (
            ("Compact Weight Bench", 299, "A solid bench for presses and step-ups at home."),
            ("Jump Rope", 30, "Cardio that needs no extra space and travels in a bag."),
            ("Exercise Mat", 30, "A thick mat for everything from yoga to core work."),
        )
    )
    record = extract_article(page(extra=f"<ol>{items}</ol>"), "https://news.example/gym.html")
    assert record is not None
    lines = record["text"].split("\n")
    # Each line of an item is a line of the text, once; no item comes back glued together.
    for line in ("Compact Weight Bench", "Price: $299", "Jump Rope", "Exercise Mat"):
        assert lines.count(line) == 1, line
    assert not any("BenchPrice" in line or "Bench Price" in line for line in lines)


def test_paywall_referral_sponsor_and_disclosure_lines_are_not_article_text() -> None:
    chrome = [
        "This article is exclusive to Example+ subscribers",
        "Already have an account? Log in",
        "Help me spread the word about this podcast!",
        "Love The Weekly Letter? Tell your friends and get rewards.",
        "Share your story",
        "Build pipelines faster with Acme CI (Sponsored)",
        "ExampleSite.org is supported by commissions from providers listed on our site.",
        "Disclosure: As an affiliate, I earn from qualifying purchases. If you click a product "
        "link on this blog and buy something, I may receive a commission at no cost to you. "
        "I only recommend products I use myself, and every opinion here is my own, which is "
        "why some of the tools I love most have no link at all in this article or elsewhere.",
    ]
    keep = [
        "Disclosure of the documents was ordered by the court after a two-year fight over "
        "what the ministry knew about the dam before it failed.",
        "Spread the word about the free clinics, officials urged residents on Monday.",
    ]
    extra = "".join(f"<p>{line}</p>" for line in chrome + keep)
    record = extract_article(page(extra=extra), URL)
    assert record is not None
    lines = record["text"].split("\n")
    assert all(line in lines for line in keep) and all(para in lines for para in PARAS)
    assert not set(chrome) & set(lines)


def test_story_paragraphs_in_a_block_whose_class_says_embed_or_slides_are_kept() -> None:
    more = [
        "The second half of the plan moves the pumping station upstream, where the river bed "
        "is wider and the ground firm enough to carry the heavy machinery it needs.",
        "Residents of the lower town will be asked to comment on the route of the new service "
        "road before the end of the year, the council said in its statement.",
        "Work on the first section is due to start in the spring, once the contracts for the "
        "steel and the concrete have been signed with the two firms chosen last month.",
        "The regional government has promised to pay a third of the cost, and the rest will "
        "come from a loan the council expects to repay over the next twenty-five years.",
    ]
    for cls in ("rich-text w-embed", "listicle-slides", "body hs_meta_field"):
        block = f'<div class="{cls}">' + "".join(f"<p>{p}</p>" for p in more) + "</div>"
        record = extract_article(page(extra=block), URL)
        assert record is not None
        lines = record["text"].split("\n")
        assert all(p in lines for p in PARAS + more), cls
        assert record["quality"]["shielded_blocks"] == 1
    # A block of links keeps its class: trafilatura's own pruning still applies to it.
    links = "".join(f'<p><a href="/n/{i}">{p}</a></p>' for i, p in enumerate(more))
    record = extract_article(page(extra=f'<div class="slides">{links}</div>'), URL)
    assert record is not None and record["quality"]["shielded_blocks"] == 0


def test_an_intro_before_the_headline_printed_again_as_a_subheading_is_kept() -> None:
    from pipelines.extract import _body_lines
    from pipelines.metadata import parse_html

    intro = (
        "Do you know all of the different types of wine? This chart organizes almost two hundred "
        "of them by taste and style, from the lightest whites to the darkest reds."
    )
    title = "The Different Types of Wine"
    text = "\n".join([intro, title, *PARAS])
    tree = parse_html(
        f"<html><body><h1>The Many Types of Wine</h1><p>{intro}</p><h2>{title}</h2>"
        + "".join(f"<p>{p}</p>" for p in PARAS)
        + "</body></html>"
    )
    # The page prints the headline again as a sub-heading: intro and sub-heading stay.
    assert _body_lines(text, title, tree=tree) == [intro, title, *PARAS]
    # Printed once, as the headline: what precedes it is a kicker or a standfirst.
    tree = parse_html(f"<html><body><h1>{title}</h1></body></html>")
    assert _body_lines(text, title, tree=tree) == PARAS
    assert _body_lines("\n".join(["World", title, *PARAS]), title) == PARAS


def test_the_byline_block_left_at_the_texts_start_is_dropped() -> None:
    from pipelines.extract import _without_byline

    lines = ["PUBLISHED", "3 January, 2025", "Annemarie Bufe", "Product Analytics Expert", *PARAS]
    assert _without_byline(lines, ["Annemarie Bufe"]) == PARAS
    assert _without_byline(["By Jo Roe", "5 min read", *PARAS], ["Jo Roe"]) == PARAS
    # A name nobody signed, or a line in capitals after the name, is the article's.
    assert _without_byline(["Annemarie Bufe", *PARAS], []) == ["Annemarie Bufe", *PARAS]
    assert _without_byline(["Jo Roe", "IN PERSON", *PARAS], ["Jo Roe"]) == ["IN PERSON", *PARAS]
    # Only at the start: a date further down stays.
    assert _without_byline([*PARAS, "3 January, 2025"], []) == [*PARAS, "3 January, 2025"]
    # The byline is dropped from the record's text end to end.
    byline = "<p>Published</p><p>3 January, 2025</p>"
    html = page(extra="").replace(b"<p>The city", byline.encode() + b"<p>The city", 1)
    record = extract_article(html, URL)
    assert record is not None and record["text"].split("\n")[:3] == PARAS


def test_a_second_copy_republish_and_licence_lines_are_cut() -> None:
    from pipelines.extract import _is_chrome_line, _without_byline, _without_second_copy

    dek = "A guide on how much to charge for yoga classes, with average costs and what drives them."
    title = "How Much Should You Charge for a Yoga Class?"
    story = [dek, *PARAS, "Get in touch and see how we can help."]
    assert _without_second_copy([*story, title, *story], title) == story
    # A paragraph quoted again further down is no second copy.
    assert _without_second_copy([*story, dek, "Another line."], title) == [
        *story,
        dek,
        "Another line.",
    ]
    assert _is_chrome_line("Republish this article")
    assert _is_chrome_line("This work is licensed under a Creative Commons Attribution License.")
    assert not _is_chrome_line("This work is licensed to three publishers in Europe, she said.")
    assert _without_byline(["Posted On", "Jan 13, 2025", *PARAS], []) == PARAS


def test_prose_written_straight_into_the_body_is_extracted() -> None:
    # An older hand-written page: its paragraphs are bare text between headings and lists.
    prose = [
        f"Bare paragraph {n} explains the fold and cut problem and how it was solved in detail."
        for n in range(6)
    ]
    page = (
        "<html><head><title>The Fold-and-Cut Problem</title></head><body>"
        "<h1>The Fold-and-Cut Problem</h1><h2>Problem</h2>"
        f"{prose[0]}<ol><li>Take a piece of paper.</li><li>Fold it flat.</li></ol>"
        f"{prose[1]} {prose[2]}<h2>History</h2>{prose[3]}<p>{prose[4]}</p>{prose[5]}"
        "</body></html>"
    )
    record = extract_article(page.encode(), "https://people.example/foldcut")
    assert record is not None
    for sentence in prose:
        assert sentence in record["text"]
    assert record["quality"]["loose_paragraphs"] >= 4


def test_a_breadcrumb_that_looks_like_a_frame_does_not_hide_the_article() -> None:
    # Its class matches one of trafilatura's content XPaths before the real frame does.
    sections = [
        f"Section {n} of the guide explains one more step of the setup in plain words, with "
        "the reasons for it and what to check once it is done, why the order of the steps "
        "matters, and which settings are safe to leave at their defaults."
        for n in range(6)
    ]
    page = (
        "<html><head><title>Setting up the server</title></head><body>"
        "<div class='page-content-breadcrumbs'><div><nav><ol><li>Setting up the server</li>"
        "</ol></nav></div></div><div class='wrap'><div class='article-body'>"
        + "".join(
            f"<h2>Step {n}</h2><p>{text}</p><ul><li>Check the log for step {n}.</li>"
            f"<li>Restart after step {n}.</li></ul>"
            for n, text in enumerate(sections)
        )
        + "</div></div></body></html>"
    )
    record = extract_article(page.encode(), "https://docs.example/setup")
    assert record is not None
    lines = record["text"].split("\n")
    for n, text in enumerate(sections):
        assert lines[4 * n : 4 * n + 4] == [
            f"Step {n}",
            text,
            f"Check the log for step {n}.",
            f"Restart after step {n}.",
        ]
    assert record["quality"]["unmarked_stubs"] == 1


def test_a_streamed_article_is_read_where_its_placeholders_are() -> None:
    # React streams the body late: placeholders in the article, the text after the footer.
    paras = [
        f"Paragraph {n} of the streamed story says what happened on day {n} of the inquiry, "
        "who spoke to the committee and what the members asked them about the contracts."
        for n in range(5)
    ]
    lead = (
        "The committee sat for five days and heard from every firm that bid for the contracts, "
        "and from the officials who chose between them."
    )
    slots = "".join(
        f"<!--$?--><template id='B:{n}'></template><div>Loading paragraph...</div><!--/$-->"
        for n in range(5)
    )
    segments = "".join(
        f'<div hidden id=\'S:{n}\'><p>{text}</p></div><script>$RC("B:{n}","S:{n}")</script>'
        for n, text in enumerate(paras)
    )
    page = (
        "<html><head><title>The inquiry, day by day</title></head><body>"
        "<article><h1>The inquiry, day by day</h1><div class='article-body'>"
        f"<p>{lead}</p><h2>What was said</h2>{slots}</div></article><footer><p>Copyright 2026 "
        "The Daily Example. All rights reserved. Read our terms of use and our privacy policy."
        f"</p></footer>{segments}"
        "</body></html>"
    )
    record = extract_article(page.encode(), "https://news.example/inquiry")
    assert record is not None
    assert record["text"].split("\n") == [lead, "What was said", *paras]
    assert record["quality"]["streamed_segments"] == 5


def test_answers_in_closed_accordion_panels_are_article_text() -> None:
    steps = [
        f"Step {n} usually takes a few days: the installer checks the roof, files the permit "
        "with the town and orders the panels and the inverter for the job."
        for n in range(4)
    ]
    panels = "".join(
        f"<h3><button id='h{n}' aria-expanded='false' aria-controls='p{n}'>Step {n}</button>"
        f"</h3><div id='p{n}' role='region' aria-labelledby='h{n}' style='display:none'>"
        f"<p>{text}</p></div>"
        for n, text in enumerate(steps)
    )
    page = (
        "<html><head><title>How solar gets installed</title></head><body><article>"
        "<h1>How solar gets installed</h1><p>Putting panels on a house takes a month or two "
        "from the first call to the day the system is switched on, in five steps.</p><p>Most "
        "of that time is spent waiting: for the permit, for the parts and for the utility, "
        "which has to inspect the work before it lets the system feed the grid.</p><p>Costs "
        "vary with the size of the roof and the system, the panels chosen, the town's fees "
        "and the incentives on offer, which can take a third off the price of the job.</p>"
        "<p>A good installer explains each of these steps before the contract is signed, and "
        "says which of them the owner has to take care of and which the firm handles.</p>"
        f"<h2>The steps</h2>{panels}</article></body></html>"
    )
    record = extract_article(page.encode(), "https://energy.example/solar")
    assert record is not None
    for text in steps:
        assert text in record["text"]
    assert record["quality"]["opened_panels"] == 4
