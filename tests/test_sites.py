"""Site configs and discovery: the TOML format, feeds and sitemaps, a crawl with -a site=."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from crawler.discovery import parse_feed, parse_sitemap, robots_sitemaps
from crawler.sites import SITES_DIR, SiteConfigError, load_site
from tests.crawlrun import read_jsonl_gz, run_crawl
from tests.site import load_expected
from tests.site.server import OLD_STORY

ARTICLES = sorted(
    p for p, e in load_expected().items() if not p.startswith("_") and e["kind"] == "article"
)


def write(tmp: Path, text: str) -> Path:
    path = tmp / "site.toml"
    path.write_text(text)
    return path


def test_the_example_config_loads() -> None:
    site = load_site("example")
    assert site.path == SITES_DIR / "example.toml"
    assert site.allowed_domains == ["example.com"]
    assert site.sitemaps == ["https://www.example.com/robots.txt"]
    assert site.wants("https://www.example.com/2026/11/28/story.html")
    assert not site.wants("https://www.example.com/video/2026/11/28/clip.html")
    assert not site.wants("https://elsewhere.org/2026/11/28/story.html")
    assert (site.download_delay, site.concurrency, site.cron) == (1.0, 2, "*/20 * * * *")


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (
            'allowed_domains = ["a.com"]\nstart_urls = ["https://a.com/"]\ncolour = 1\n',
            3,
            "unknown key",
        ),
        ('allowed_domains = ["a.com"]\nstart_urls = ["ftp://a.com/"]\n', 2, "not an http(s) URL"),
        (
            'allowed_domains = ["a.com"]\nstart_urls = ["https://a.com/"]\n'
            '[articles]\nallow = ["(x"]\n',
            4,
            "bad regular expression",
        ),
        (
            'allowed_domains = ["a.com"]\nstart_urls = ["https://a.com/"]\n'
            '[schedule]\ncron = "hourly"\n',
            4,
            "cron",
        ),
        ('allowed_domains = ["a.com"\nstart_urls = 1\n', 2, ""),
        ('start_urls = ["https://a.com/"]\n', 1, "at least one domain"),
    ],
)
def test_bad_configs_name_file_line_and_reason(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SiteConfigError) as err:
        load_site(str(path))
    assert str(err.value).startswith(f"{path}:{line}:") and reason in str(err.value)


def test_unknown_site_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(SiteConfigError, match="known: example"):
        load_site("nope")


def test_feeds_of_every_kind() -> None:
    rss = b"""<rss version="2.0"><channel><item><link>https://a.com/1</link>
      <pubDate>Fri, 28 Nov 2026 10:00:00 +0300</pubDate></item></channel></rss>"""
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><entry><link href="https://a.com/2"/>
      <updated>2026-11-28T07:00:00Z</updated></entry></feed>"""
    jsonfeed = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "items": [{"url": "https://a.com/3", "date_published": "2026-11-28T07:00:00Z"}],
        }
    ).encode()
    for body, url in (
        (rss, "https://a.com/1"),
        (atom, "https://a.com/2"),
        (jsonfeed, "https://a.com/3"),
    ):
        (entry,) = parse_feed(body)
        assert entry.url == url and entry.published is not None
        assert entry.published.isoformat() == "2026-11-28T07:00:00+00:00"


def test_sitemaps_index_news_and_robots() -> None:
    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap>
      <loc>https://a.com/s1.xml</loc><lastmod>2026-11-01</lastmod></sitemap></sitemapindex>"""
    kind, entries = parse_sitemap(index)
    assert kind == "index" and [e.url for e in entries] == ["https://a.com/s1.xml"]
    news = b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
      xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url><loc>https://a.com/a</loc>
      <lastmod>2026-11-29</lastmod><news:news><news:publication_date>2026-11-28T10:00:00+03:00
      </news:publication_date></news:news></url><url><loc>https://a.com/b</loc></url></urlset>"""
    kind, entries = parse_sitemap(news)
    assert kind == "urlset" and [e.url for e in entries] == ["https://a.com/a", "https://a.com/b"]
    assert entries[0].published is not None and entries[0].published.day == 28  # news date wins
    assert entries[1].published is None
    robots = b"User-agent: *\nDisallow: /x\nSitemap: https://a.com/news.xml\nsitemap: https://a.com/s.xml\n"
    assert list(robots_sitemaps(robots)) == ["https://a.com/news.xml", "https://a.com/s.xml"]


def test_crawl_a_site_from_its_config(news_site: Any, tmp_path: Path) -> None:
    base = news_site.base_url
    archive = tmp_path / "from-config"
    config = write(
        tmp_path,
        f"""name = "meridian"
allowed_domains = ["127.0.0.1"]
feeds = ["{base}/feed.xml"]
sitemaps = ["{base}/news-sitemap.xml"]
archive_uri = "{archive}"
[articles]
allow = ['/20\\d\\d/\\d\\d/\\d\\d/']
[politeness]
download_delay = 0.05
concurrency = 3
[schedule]
window_hours = {24 * 30}
""",
    )
    before = len(news_site.requests)
    result = run_crawl(tmp_path, ["-a", f"site={config}"])
    assert result.returncode == 0, result.log[-3000:]
    records = [r for p in archive.glob("articles/*/*/*/*.jsonl.gz") for r in read_jsonl_gz(p)]
    assert sorted(urlsplit(r["url"]).path for r in records) == ARTICLES
    requested = [r["path"] for r in news_site.requests[before:]]
    assert OLD_STORY not in requested  # announced, but older than the window
    manifest = json.loads(next(archive.glob("crawls/*.json")).read_text())
    assert manifest["settings"]["DOWNLOAD_DELAY"] == 0.05
    assert manifest["settings"]["CONCURRENT_REQUESTS_PER_DOMAIN"] == 3
    assert manifest["arguments"]["site"] == str(config)
    assert all("feed" in r["quality"]["signals"] for r in records)
    # The feed and the sitemap each announced the 8 articles and the old story.
    assert manifest["counts"]["discovered"] == 2 * (len(ARTICLES) + 1)
    assert manifest["skipped"]["too_old"] == 2


def test_a_bad_config_stops_the_crawl_at_start(news_site: Any, tmp_path: Path) -> None:
    config = write(tmp_path, 'allowed_domains = ["127.0.0.1"]\nfeeds = ["nope"]\n')
    before = len(news_site.requests)
    result = run_crawl(tmp_path, ["-a", f"site={config}"], {"NEWSWARC_ARCHIVE_URI": tmp_path / "a"})
    assert result.returncode != 0
    critical = [ln for ln in result.log.splitlines() if "CRITICAL" in ln]
    assert len(critical) == 1 and f"{config}:2: feeds: not an http(s) URL" in critical[0]
    assert "Traceback" not in result.log  # one clear message, not Scrapy's internals
    assert len(news_site.requests) == before


def test_articles_listed_through_a_sitemap_index_do_not_spend_the_depth_limit(
    news_site: Any, tmp_path: Path
) -> None:
    # index -> news sitemap -> article is depth 2 as links go: with DEPTH_LIMIT 1 the articles
    # would be dropped ("Ignoring link (depth > 1)") if sitemaps counted as links.
    base = news_site.base_url
    archive = tmp_path / "from-index"
    config = write(
        tmp_path,
        f"""name = "meridian"
allowed_domains = ["127.0.0.1"]
sitemaps = ["{base}/sitemap-index.xml"]
archive_uri = "{archive}"
[articles]
allow = ['/20\\d\\d/\\d\\d/\\d\\d/']
[schedule]
window_hours = {24 * 30}
""",
    )
    before = len(news_site.requests)
    result = run_crawl(tmp_path, ["-a", f"site={config}"], {"DEPTH_LIMIT": 1})
    assert result.returncode == 0, result.log[-3000:]
    records = [r for p in archive.glob("articles/*/*/*/*.jsonl.gz") for r in read_jsonl_gz(p)]
    assert sorted(urlsplit(r["url"]).path for r in records) == ARTICLES
    # The index lists itself: it is fetched once, not in a loop.
    requested = [r["path"] for r in news_site.requests[before:]]
    assert requested.count("/sitemap-index.xml") == 1
    assert "depth > 1" not in result.log
