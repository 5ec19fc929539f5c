"""The ``news`` spider: fetch given article URLs, or crawl listing pages for articles."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import scrapy
from scrapy import signals as scrapy_signals
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor

from crawler.discovery import Entry, parse_feed, parse_sitemap, robots_sitemaps
from crawler.extensions import ArchiveExtension
from crawler.items import ArticlePage
from crawler.middlewares import FETCH_TIME, UNCHANGED, WARC_POINTER
from crawler.sites import SITES_DIR, SiteConfig, SiteConfigError, load_site
from pipelines.detect import article_signals
from pipelines.state import StateStore

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

_HTML_TYPES = (b"text/html", b"application/xhtml+xml")
#: Known URLs decided in this run (skip or fetch), remembered so that one linked from many
#: listings is looked up and counted once; bounded (by hash, ~100 bytes an entry), oldest
#: forgotten first.
DECIDED_CACHE = 100_000
_PERMANENT = (301, 308)


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
        site: a site config of ``settings/sites/`` (name, or path to a ``.toml`` file): its
            feeds, sitemaps and start pages, article URL patterns, politeness and archive.
    """

    name = "news"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.newswarc_args = {k: v for k, v in kwargs.items() if isinstance(v, str)}
        self.site: SiteConfig | None = None
        if kwargs.get("site"):
            self.site = load_site(kwargs.pop("site"), Path(kwargs.pop("sites_dir", SITES_DIR)))
            kwargs.setdefault("start_urls", ",".join(self.site.start_urls))
        articles = []
        if kwargs.get("url"):
            articles += read_url_list(kwargs.pop("url"))
        if kwargs.get("urls"):
            articles += read_url_list(kwargs.pop("urls"))
        listings = read_url_list(kwargs.pop("start_urls")) if kwargs.get("start_urls") else []
        kwargs.pop("start_urls", None)
        if not articles and not listings and self.site is None:
            raise ValueError(
                "give -a url=URL, -a urls=LIST|FILE, -a start_urls=LIST|FILE or -a site=NAME"
            )
        super().__init__(*args, **kwargs)
        self.article_urls = articles
        self.listing_urls = listings
        if listings and not articles:
            hosts = {_host(u) for u in listings}
            self.allowed_domains = sorted(hosts)
        self.sites = {_host(u) for u in listings}
        if self.site is not None:
            self.allowed_domains = list(self.site.allowed_domains)
            self.sites |= set(self.site.allowed_domains)
        self.follow_article_links = False
        self.recrawl_hours = self.site.recrawl_hours if self.site is not None else 0.0
        self._validators: dict[str, tuple[str | None, str | None]] = {}
        # Sitemaps asked for in this run: an index that lists itself (or a cycle) ends here.
        self._sitemaps: set[str] = set()
        self._decided: OrderedDict[int, bool] = OrderedDict()
        self.link_extractor = LinkExtractor(unique=True)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        try:
            spider = super().from_crawler(crawler, *args, **kwargs)
        except SiteConfigError as exc:
            logger.critical("newswarc: bad site config, crawl not started: %s", exc)
            exc.newswarc_reported = True  # type: ignore[attr-defined]  # no traceback after it
            raise
        spider.follow_article_links = crawler.settings.getbool("NEWSWARC_FOLLOW_ARTICLE_LINKS")
        if spider.site is None:
            spider.recrawl_hours = crawler.settings.getfloat("NEWSWARC_RECRAWL_HOURS", 0.0)
        crawler.signals.connect(spider.item_dropped, signal=scrapy_signals.item_dropped)
        crawler.signals.connect(spider.request_dropped, signal=scrapy_signals.request_dropped)
        site = spider.site
        if site is not None:
            # The spider is built before the settings freeze: a site's politeness and archive
            # apply to this crawl, below anything given on the command line.
            if site.download_delay is not None:
                crawler.settings.set("DOWNLOAD_DELAY", site.download_delay, priority="spider")
            if site.concurrency is not None:
                crawler.settings.set(
                    "CONCURRENT_REQUESTS_PER_DOMAIN", site.concurrency, priority="spider"
                )
            if site.archive_uri:
                crawler.settings.set("NEWSWARC_ARCHIVE_URI", site.archive_uri, priority="spider")
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.article_urls:
            yield scrapy.Request(url, callback=self.parse, cb_kwargs={"forced": True})
        if self.site is not None:
            for url in self.site.feeds:
                yield self._conditional(url, self.parse_feed)
            for url in self.site.sitemaps:
                callback = self.parse_robots if url.endswith("/robots.txt") else self.parse_sitemap
                self._sitemaps.add(url)
                yield self._conditional(url, callback)
        for url in self.listing_urls:
            request = scrapy.Request(url, callback=self.parse, cb_kwargs={"forced": False})
            yield self._listing(request)

    def _state(self) -> StateStore | None:
        archive = self.crawler.get_extension(ArchiveExtension)
        return archive.state if archive is not None else None

    def _conditional(self, url: str, callback: Any) -> scrapy.Request:
        """Return a request for a feed or sitemap that asks only for what changed since."""
        headers = {}
        state = self._state()
        # Validators saved only by crawls that finished: a killed run's feed is read again.
        etag, last_modified = state.validators(url) if state is not None else (None, None)
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return scrapy.Request(
            url,
            callback=callback,
            headers=headers,
            dont_filter=True,
            # A feed or sitemap is a list of articles, not a page of links: robots.txt → index
            # → sitemap must not spend DEPTH_LIMIT, or the articles it lists are dropped.
            meta={"handle_httpstatus_list": [304], "depth_reset": True},
        )

    def _not_modified(self, response: Response) -> bool:
        if response.status == 304:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("newswarc/discovery/not_modified")
            return True
        etag = response.headers.get(b"ETag")
        modified = response.headers.get(b"Last-Modified")
        self._validators[response.url] = (
            etag.decode("latin-1") if etag else None,
            modified.decode("latin-1") if modified else None,
        )
        return False

    def _known(self, url: str, modified: datetime | None = None) -> bool:
        """Tell whether ``url`` is a known article that no rule asks to fetch again.

        Known: fetched whole and recorded in an earlier run (a version of its text, or the
        verdict that it is no article). Fetched again only while younger than ``recrawl_hours``
        (to catch edits), or when its source gives a change date (``lastmod``) after the last
        fetch. However the URL was found: feed, sitemap, listing page or start page.
        """
        state = self._state()
        if state is None:
            return False
        alias = hash(url)
        cached = self._decided.get(alias)
        if cached is not None and (modified is None or not cached):
            self._decided.move_to_end(alias)
            return cached
        known = state.known_article(url)
        if known is None:
            return False
        assert self.crawler.stats is not None
        stats = self.crawler.stats
        # Decided and counted once per article, by its URL after a permanent redirect.
        key = hash(known.url)
        earlier = self._decided.get(key)
        now = datetime.now(UTC)
        first = datetime.fromisoformat(known.first_seen)
        if self.recrawl_hours and first >= now - timedelta(hours=self.recrawl_hours):
            if earlier is None:
                stats.inc_value("newswarc/discovery/recrawl")
            skip = False
        elif modified is not None and modified > datetime.fromisoformat(known.last_fetch):
            if earlier is not False:
                stats.inc_value("newswarc/discovery/modified")
            if earlier:
                # Skipped earlier in this run, found without a date: fetched after all.
                stats.inc_value("newswarc/discovery/known", -1)
            skip = False
        else:
            skip = earlier is not False  # once due in this run, it stays due
            if earlier is None and skip:
                stats.inc_value("newswarc/discovery/known")
        for k in (key, alias):
            self._decided[k] = skip
            self._decided.move_to_end(k)
        while len(self._decided) > DECIDED_CACHE:
            self._decided.popitem(last=False)
        return skip

    def _listing(self, request: scrapy.Request) -> scrapy.Request:
        """Ask for a page seen as a listing before only if it changed since (conditional GET)."""
        state = self._state()
        etag, last_modified = (
            state.listing_validators(request.url) if state is not None else (None, None)
        )
        if not (etag or last_modified):
            return request
        if etag:
            request.headers["If-None-Match"] = etag
        if last_modified:
            request.headers["If-Modified-Since"] = last_modified
        request.meta["handle_httpstatus_list"] = [304]
        return request

    def _follow(self, response: Response, links: Iterable[str]) -> Iterator[scrapy.Request]:
        """Yield requests for a listing's links, but not for known articles."""
        for link in links:
            request = response.follow(link, callback=self.parse)
            if self._known(request.url):
                continue
            yield self._listing(request)

    def _record_redirects(self, meta: dict[str, Any], target: str) -> None:
        """Remember the permanent redirects that led to ``target``: a link to one is known."""
        state = self._state()
        if state is None:
            return
        reasons = meta.get("redirect_reasons") or []
        for url, why in zip(meta.get("redirect_urls") or [], reasons, strict=False):
            if why in _PERMANENT:
                state.record_redirect(url, target)

    def request_dropped(self, request: scrapy.Request) -> None:
        """Record a redirect whose target this run already had (the duplicate is dropped)."""
        self._record_redirects(request.meta, request.url)

    def item_dropped(self, item: Any, response: Any, exception: BaseException) -> None:
        """Remember pages the extraction found to be no article: known, like articles."""
        state = self._state()
        url = getattr(item, "url", None) or (item.get("url") if isinstance(item, dict) else None)
        if state is not None and url and str(exception).startswith("not an article"):
            archive = self.crawler.get_extension(ArchiveExtension)
            state.record_not_article(url, str(exception), archive.crawl_id if archive else None)

    def closed(self, reason: str) -> None:
        """Save the feeds' validators once every entry they announced was handled."""
        state = self._state()
        if reason == "finished" and state is not None and self._validators:
            state.save_validators(self._validators)

    def _announced(self, entries: list[Entry], source: str) -> Iterator[scrapy.Request]:
        """Yield requests for announced articles of the site inside the date window."""
        assert self.site is not None and self.crawler.stats is not None
        stats = self.crawler.stats
        oldest = datetime.now(UTC) - timedelta(hours=self.site.window_hours)
        for entry in entries:
            stats.inc_value(f"newswarc/discovery/{source}_entries")
            if not self.site.wants(entry.url):
                stats.inc_value("newswarc/discovery/not_wanted")
                continue
            if self.site.window_hours and entry.published and entry.published < oldest:
                stats.inc_value("newswarc/discovery/too_old")
                continue
            # Known only once its article is recorded: a crawl killed between the capture and
            # the record fetches it again rather than lose it.
            if self._known(entry.url, entry.modified):
                continue
            yield scrapy.Request(
                entry.url,
                callback=self.parse,
                cb_kwargs={"forced": False},
                meta={"newswarc_announced": source},
            )

    def parse_feed(self, response: Response) -> Iterator[Any]:
        """Follow the announced articles of an RSS, Atom or JSON feed."""
        if self._not_modified(response):
            return
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        yield from self._announced(parse_feed(response.body, content_type), "feed")

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        """Follow the announced articles of a (news) sitemap, or the sitemaps of an index."""
        if self._not_modified(response):
            return
        kind, entries = parse_sitemap(response.body)
        if kind == "index":
            assert self.site is not None
            oldest = datetime.now(UTC) - timedelta(hours=self.site.window_hours)
            for entry in entries:
                # A child sitemap last changed before the window announces nothing new.
                if self.site.window_hours and entry.published and entry.published < oldest:
                    continue
                if entry.url not in self._sitemaps:
                    self._sitemaps.add(entry.url)
                    yield self._conditional(entry.url, self.parse_sitemap)
            return
        yield from self._announced(entries, "sitemap")

    def parse_robots(self, response: Response) -> Iterator[Any]:
        """Follow the sitemaps robots.txt lists."""
        for url in robots_sitemaps(response.body):
            if url not in self._sitemaps:
                self._sitemaps.add(url)
                yield self._conditional(url, self.parse_sitemap)

    def parse(self, response: Response, forced: bool = False) -> Iterator[Any]:
        """Emit the page as an article candidate if it is one; follow links from listings."""
        stats = self.crawler.stats
        assert stats is not None
        state = self._state()
        if response.status == 304:
            # A listing unchanged since the last run: its links are the ones stored then, and
            # they go through the same rule as fresh ones.
            stats.inc_value("newswarc/listings/not_modified")
            if state is not None:
                yield from self._follow(response, state.listing_links(response.url))
            return
        self._record_redirects(response.meta, response.url)
        content_type = response.headers.get(b"Content-Type") or b""
        if not isinstance(response, TextResponse) or not any(
            t in content_type.lower() for t in _HTML_TYPES
        ):
            stats.inc_value("newswarc/skipped/not_html")
            return
        signals = article_signals(response.url, response.text)
        announced = response.meta.get("newswarc_announced")
        if announced:
            signals = [*signals, announced]  # a feed or sitemap said it is an article
        if self.site is not None and not self.site.wants(response.url):
            signals = []  # outside the site's article URL patterns
        if (
            signals
            and response.meta.get(UNCHANGED)
            and state is not None
            and state.latest_version(response.url) is not None
        ):
            # The same payload as the last capture (a revisit): the same text, no new record.
            stats.inc_value("newswarc/articles/unchanged")
        elif forced or signals:
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
            # Same site: the host, ignoring "www." (and the port, unlike allow_domains).
            links = [
                link.url
                for link in self.link_extractor.extract_links(response)
                if _host(link.url) in self.sites
            ]
            if state is not None:
                etag = response.headers.get(b"ETag")
                modified = response.headers.get(b"Last-Modified")
                state.save_listing(
                    response.url,
                    etag.decode("latin-1") if etag else None,
                    modified.decode("latin-1") if modified else None,
                    links,
                )
            yield from self._follow(response, links)
