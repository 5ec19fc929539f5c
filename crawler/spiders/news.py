"""The ``news`` spider: fetch given article URLs, or crawl listing pages for articles."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor

from crawler.items import ArticlePage
from crawler.middlewares import FETCH_TIME, WARC_POINTER
from pipelines.detect import article_signals

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

_HTML_TYPES = (b"text/html", b"application/xhtml+xml")


def read_url_list(value: str) -> list[str]:
    """Read URLs from a comma-separated list or a file with one URL per line (``#`` comments)."""
    value = value.strip()
    path = Path(value)
    if "://" not in value and path.is_file():
        lines = path.read_text("utf-8").splitlines()
    else:
        lines = value.split(",")
    urls = [u.strip() for u in lines if u.strip() and not u.strip().startswith("#")]
    for url in urls:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL: {url!r}")
    return urls


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


class NewsSpider(scrapy.Spider):
    """Fetch news articles from any site.

    Arguments (``-a``):
        url: one article URL to fetch.
        urls: several article URLs, comma-separated or a file with one per line.
        start_urls: listing pages (home, sections), comma-separated or a file; same-site links
            are followed up to ``DEPTH_LIMIT`` and article pages among them are extracted.
    """

    name = "news"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.newswarc_args = {k: v for k, v in kwargs.items() if isinstance(v, str)}
        articles = []
        if kwargs.get("url"):
            articles += read_url_list(kwargs.pop("url"))
        if kwargs.get("urls"):
            articles += read_url_list(kwargs.pop("urls"))
        listings = read_url_list(kwargs.pop("start_urls")) if kwargs.get("start_urls") else []
        if not articles and not listings:
            raise ValueError("give -a url=URL, -a urls=LIST|FILE or -a start_urls=LIST|FILE")
        super().__init__(*args, **kwargs)
        self.article_urls = articles
        self.listing_urls = listings
        if listings and not articles:
            hosts = {_host(u) for u in listings}
            self.allowed_domains = sorted(hosts)
        self.sites = {_host(u) for u in listings}
        self.follow_article_links = False
        self.link_extractor = LinkExtractor(unique=True)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.follow_article_links = crawler.settings.getbool("NEWSWARC_FOLLOW_ARTICLE_LINKS")
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.article_urls:
            yield scrapy.Request(url, callback=self.parse, cb_kwargs={"forced": True})
        for url in self.listing_urls:
            yield scrapy.Request(url, callback=self.parse, cb_kwargs={"forced": False})

    def parse(self, response: Response, forced: bool = False) -> Iterator[Any]:
        """Emit the page as an article candidate if it is one; follow links from listings."""
        stats = self.crawler.stats
        assert stats is not None
        content_type = response.headers.get(b"Content-Type") or b""
        if not isinstance(response, TextResponse) or not any(
            t in content_type.lower() for t in _HTML_TYPES
        ):
            stats.inc_value("newswarc/skipped/not_html")
            return
        signals = article_signals(response.url, response.text)
        if forced or signals:
            stats.inc_value("newswarc/pages/article_candidates")
            pointer = response.meta.get(WARC_POINTER)
            fetched = response.meta.get(FETCH_TIME)
            yield ArticlePage(
                url=response.url,
                requested_url=(response.meta.get("redirect_urls") or [response.url])[0],
                status=response.status,
                body=response.body,
                content_type=content_type.decode("latin-1") or None,
                fetched_at=fetched.isoformat() if fetched else "",
                warc=pointer.as_dict() if pointer is not None else None,
                forced=forced,
                signals=signals,
            )
        else:
            stats.inc_value("newswarc/skipped/not_article")
        # Listing pages carry the fresh article links; an article's own links are navigation
        # and related stories, and following them walks the site's past (unless
        # NEWSWARC_FOLLOW_ARTICLE_LINKS says so).
        follow = not signals or self.follow_article_links
        if self.listing_urls and not forced and follow:
            for link in self.link_extractor.extract_links(response):
                # Same site: the host, ignoring "www." (and the port, unlike allow_domains).
                if _host(link.url) in self.sites:
                    yield response.follow(link, callback=self.parse)
