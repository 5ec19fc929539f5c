from __future__ import annotations

import pytest

from pipelines.detect import article_signals, markup_signals, url_signals


@pytest.mark.parametrize(
    "url",
    [
        "https://n.example/news/2026/11/28/some-story.html",
        "https://n.example/ar/2026-11-28/x",
        "https://n.example/world/article-1234567",
        "https://n.example/politics/leaders-meet-in-rome-to-discuss-trade",
        "https://n.example/story.php?id=48213",
    ],
)
def test_article_shaped_urls(url: str) -> None:
    assert url_signals(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://n.example/",
        "https://n.example/world/",
        "https://n.example/tag/libya",
        "https://n.example/category/2026/11/",
        "https://n.example/about.html",
        "https://n.example/author/jane-doe-smith-jones",
    ],
)
def test_listing_and_other_urls(url: str) -> None:
    assert url_signals(url) == []


def test_markup_signals() -> None:
    ld = '<script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle"}</script>'
    assert markup_signals(ld) == ["jsonld"]
    ld_list = (
        '<script type="application/ld+json">{"@type": ["WebPage", "ReportageNewsArticle"]}</script>'
    )
    assert markup_signals(ld_list) == ["jsonld"]
    og = '<meta property="og:type" content="article">'
    assert markup_signals(og) == ["og:type"]
    assert markup_signals('<meta content="article" property="og:type">') == ["og:type"]
    assert markup_signals('<meta property="og:type" content="website">') == []
    assert (
        article_signals("https://n.example/", '<meta property="og:type" content="website">') == []
    )
