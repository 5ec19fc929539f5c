"""``newswarc add-site URL``: a site config from a news site's home page, robots.txt and feeds."""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import re
import socket
import ssl
import sys
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit, urlunsplit

from crawler.sites import SITES_DIR, SiteConfigError, load_site

if TYPE_CHECKING:
    from crawler.netguard import AddressPolicy

# Scrapy, Twisted (the address policy lives beside the crawler's guard) and lxml are imported
# when a site is added, not whenever the `newswarc` command starts.

#: Resolve ``(host, port)`` to IP address strings (the system's resolver by default).
Resolver = Callable[[str, int], list[str]]

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json")
COMMON_FEEDS = ("/feed", "/rss", "/rss.xml", "/feed.xml", "/atom.xml", "/index.xml")
COMMON_SITEMAPS = ("/sitemap.xml", "/sitemap_index.xml", "/news-sitemap.xml", "/sitemap-news.xml")
#: Paths of pages that are no articles (tags, authors…): denied when the site links them.
LISTING = re.compile(
    r"/(tags?|category|categories|authors?|topics?|search|videos?|live|podcasts?|galler(?:y|ies))/",
    re.IGNORECASE,
)
MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5


class FetchError(Exception):
    """A page could not be fetched (refused address, timeout, HTTP error, too big)."""


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with ``getaddrinfo``, IPv4 and IPv6."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchError(f"{host}: cannot resolve: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass
class Page:
    """A fetched page: final URL, status, content type and decoded body."""

    url: str
    status: int
    content_type: str
    body: bytes


class Fetcher:
    """A small, bounded HTTP/1.1 client that obeys the crawler's private-network guard.

    Every URL's host is checked (IP literals in any spelling, ``localhost``) and every address it
    resolves to: only addresses the policy allows (public ones, and ``NEWSWARC_ALLOWED_NETWORKS``)
    are connected to, by address, so a name cannot resolve differently between the check and the
    connection. Redirects are followed (up to 5) and checked the same way; bodies are capped at
    5 MiB (gzip and deflate decoded within the cap); each request has a timeout.
    """

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        user_agent: str,
        timeout: float = 10.0,
        resolver: Resolver = system_resolver,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.policy = policy
        self.user_agent = user_agent
        self.timeout = timeout
        self.resolver = resolver
        self.max_bytes = max_bytes
        self.requests = 0

    def _addresses(self, host: str, port: int) -> list[str]:
        from crawler.netguard import InvalidHost, host_address

        refusal = self.policy.check_host(host)
        if refusal is not None:
            raise FetchError(f"{host}: refused ({refusal})")
        try:
            literal = host_address(host)
        except InvalidHost as exc:
            raise FetchError(f"{host}: {exc}") from None
        candidates = [str(literal)] if literal is not None else self.resolver(host, port)
        allowed = [a for a in candidates if self.policy.check(ipaddress.ip_address(a)) is None]
        if not allowed:
            raise FetchError(f"{host}: every address refused ({', '.join(candidates) or 'none'})")
        return allowed

    def _once(self, url: str) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"{url}: not an http(s) URL")
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = self._addresses(host, port)[0]
        self.requests += 1
        sock = socket.create_connection((address, port), timeout=self.timeout)
        try:
            if parts.scheme == "https":
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
            conn.sock = sock  # already connected, to the checked address
            target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
            conn.request(
                "GET",
                target,
                headers={
                    "Host": parts.netloc.rsplit("@", 1)[-1],
                    "User-Agent": self.user_agent,
                    "Accept-Encoding": "gzip, deflate",
                },
            )
            resp = conn.getresponse()
            raw = resp.read(self.max_bytes + 1)
            headers = {k.lower(): v for k, v in resp.getheaders()}
            status = resp.status
        except (OSError, http.client.HTTPException) as exc:
            raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None
        finally:
            sock.close()
        if len(raw) > self.max_bytes:
            raise FetchError(f"{url}: more than {self.max_bytes} bytes")
        return status, headers, self._decode(url, raw, headers.get("content-encoding", ""))

    def _decode(self, url: str, raw: bytes, encoding: str) -> bytes:
        encoding = encoding.strip().lower()
        if encoding not in ("gzip", "x-gzip", "deflate"):
            return raw
        try:
            wbits = 16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS
            decoder = zlib.decompressobj(wbits)
            body = decoder.decompress(raw, self.max_bytes + 1)
        except zlib.error as exc:
            raise FetchError(f"{url}: bad {encoding} body: {exc}") from None
        if len(body) > self.max_bytes:
            raise FetchError(f"{url}: more than {self.max_bytes} bytes decoded")
        return body

    def get(self, url: str) -> Page:
        """Fetch ``url``, following redirects.

        Raises:
            FetchError: refused, unreachable, too big, or a status of 400 or more.

        """
        for _ in range(MAX_REDIRECTS + 1):
            status, headers, body = self._once(url)
            if status in (301, 302, 303, 307, 308) and headers.get("location"):
                url = urljoin(url, headers["location"])
                continue
            if status >= 400:
                raise FetchError(f"{url}: HTTP {status}")
            return Page(url, status, headers.get("content-type", ""), body)
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


def registrable_domain(host: str) -> str:
    """Return the site's domain: the public-suffix registrable domain, else the last two labels.

    Uses tldextract's bundled suffix list (never downloaded). ``www.`` is dropped; IP addresses
    are returned as they are.
    """
    import tldextract

    from crawler.netguard import InvalidHost, host_address

    host = host.lower().rstrip(".")
    try:
        if host_address(host) is not None:
            return host
    except InvalidHost:
        return host
    parts = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)(host)
    if parts.suffix and parts.domain:
        return f"{parts.domain}.{parts.suffix}"
    labels = host.split(".")
    return ".".join(labels[-2:]) if len(labels) >= 2 else host


def crawl_delay(robots_txt: str, agent: str) -> float | None:
    """Return the ``Crawl-delay`` of the group for ``agent`` (else ``*``), in seconds.

    ``urllib.robotparser`` reads only whole seconds; sites write ``0.5`` too.
    """
    token = agent.split("/", 1)[0].lower()
    delays: dict[str, float] = {}
    agents: list[str] = []
    in_rules = False
    for raw in robots_txt.splitlines():
        line = raw.split("#", 1)[0].strip()
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "user-agent":
            if in_rules:
                agents, in_rules = [], False
            agents.append(value.lower())
        elif key in ("allow", "disallow", "crawl-delay", "request-rate"):
            in_rules = True
            if key == "crawl-delay":
                try:
                    delay = float(value)
                except ValueError:
                    continue
                for name in agents:
                    delays.setdefault(name, delay)
    for name, delay in delays.items():
        if name != "*" and name in token:
            return delay
    return delays.get("*")


def _same_site(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _links(html: bytes, base: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Return the page's ``<a href>`` URLs and its ``<link rel=alternate>`` (type, URL) pairs."""
    import lxml.html

    try:
        tree = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return [], []
    anchors = []
    for href in tree.xpath("//a/@href"):
        url = urljoin(base, str(href).strip()).split("#", 1)[0]
        if urlsplit(url).scheme in ("http", "https"):
            anchors.append(url)
    alternates = []
    for link in tree.xpath("//link[@href]"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        if "alternate" in rel and kind in FEED_TYPES:
            alternates.append((kind, urljoin(base, link.get("href").strip())))
    return list(dict.fromkeys(anchors)), alternates


@dataclass
class Pattern:
    """An article URL pattern learned from links, and how many URLs support it."""

    regex: str
    kind: str  # date path, numeric id, slug
    count: int
    example: str


def learn_patterns(urls: Iterable[str], *, min_count: int = 2) -> list[Pattern]:
    """Find article URL patterns in URLs: date paths, numeric ids, multi-word slugs.

    A slug pattern is narrowed to the first path segment most slugs share (``/story/``) when
    at least two thirds of them do. Patterns with fewer than ``min_count`` URLs are dropped.
    """
    from pipelines.detect import url_signals

    dates: list[str] = []
    ids: list[str] = []
    slugs: list[str] = []
    for url in dict.fromkeys(urls):
        signals = url_signals(url)
        if "url:date" in signals:
            dates.append(url)
        elif "url:id" in signals:
            ids.append(url)
        elif "url:slug" in signals:
            slugs.append(url)
    out = []
    if dates:
        full = [u for u in dates if re.search(r"/\d{4}/\d{1,2}/\d{1,2}/", urlsplit(u).path)]
        if len(full) == len(dates):
            out.append(Pattern(r"/\d{4}/\d{1,2}/\d{1,2}/", "date path", len(dates), dates[0]))
        else:
            out.append(Pattern(r"/\d{4}[/-]\d{1,2}[/-]", "date path", len(dates), dates[0]))
    if ids:
        out.append(Pattern(r"(?:^|[/_.=-])\d{5,}(?:$|[/_.-])", "numeric id", len(ids), ids[0]))
    if slugs:
        firsts = Counter(
            ([*urlsplit(u).path.strip("/").split("/"), ""])[0]
            for u in slugs
            if urlsplit(u).path.strip("/").count("/") >= 1
        )
        top, top_count = firsts.most_common(1)[0] if firsts else ("", 0)
        if top and top_count * 3 >= len(slugs) * 2:
            out.append(
                Pattern(
                    rf"/{re.escape(top)}/[^/?#]*[a-z0-9]+(?:[-_][a-z0-9]+){{3,}}",
                    "slug",
                    top_count,
                    slugs[0],
                )
            )
        else:
            out.append(
                Pattern(
                    r"/[a-z0-9]+(?:[-_][a-z0-9]+){3,}(?:\.s?html?)?/?$",
                    "slug",
                    len(slugs),
                    slugs[0],
                )
            )
    return [p for p in out if p.count >= min_count]


@dataclass
class Findings:
    """What ``add-site`` found, and where each value came from."""

    home: str
    name: str
    domain: str
    subdomains: Counter[str] = field(default_factory=Counter)
    feeds: list[tuple[str, str]] = field(default_factory=list)  # (URL, source)
    sitemaps: list[tuple[str, str]] = field(default_factory=list)
    news_sitemaps: list[str] = field(default_factory=list)
    sitemap_kinds: dict[str, str] = field(default_factory=dict)  # URL: index or urlset
    sections: list[str] = field(default_factory=list)
    patterns: list[Pattern] = field(default_factory=list)
    denied: Counter[str] = field(default_factory=Counter)
    crawl_delay: float | None = None
    robots_found: bool = False
    announced: list[str] = field(default_factory=list)  # feed and sitemap entry URLs
    linked: list[str] = field(default_factory=list)  # article-shaped links of home and sections
    notes: list[str] = field(default_factory=list)  # what was looked for and not found

    @property
    def candidates(self) -> list[str]:
        """Article URLs to try with ``--check``: announced first, then linked, matching."""
        allow = [re.compile(p.regex) for p in self.patterns]
        wanted = [
            u
            for u in dict.fromkeys(self.announced + self.linked)
            if not allow or any(p.search(u) for p in allow)
        ]
        return wanted


def discover(home: str, fetcher: Fetcher, *, max_sections: int = 3) -> Findings:
    """Read a site's home page, robots.txt, feeds and sitemaps; return what a config needs.

    Raises:
        FetchError: the home page cannot be fetched.

    """
    from crawler.discovery import parse_feed, parse_sitemap, robots_sitemaps
    from pipelines.detect import url_signals

    page = fetcher.get(home)
    home = page.url  # after redirects: the site's own address
    parts = urlsplit(home)
    origin = f"{parts.scheme}://{parts.netloc}"
    host = (parts.hostname or "").lower()
    domain = registrable_domain(host)
    found = Findings(home=home, name=re.sub(r"[^A-Za-z0-9_.-]", "-", domain), domain=domain)

    # robots.txt: sitemaps and crawl-delay.
    try:
        body = fetcher.get(origin + "/robots.txt").body
        found.robots_found = True
        found.crawl_delay = crawl_delay(body.decode("utf-8", "replace"), fetcher.user_agent)
        for url in robots_sitemaps(body):
            found.sitemaps.append((url, "robots.txt Sitemap:"))
    except FetchError as exc:
        found.notes.append(f"robots.txt: {exc}")

    anchors, alternates = _links(page.body, home)
    for kind, url in alternates:
        found.feeds.append((url, f'<link rel="alternate" type="{kind}"> on the home page'))
    if not found.feeds:
        for path in COMMON_FEEDS:
            try:
                probe = fetcher.get(origin + path)
            except FetchError:
                continue
            if parse_feed(probe.body, probe.content_type):
                found.feeds.append((probe.url, f"common feed path {path} (answered with a feed)"))
                break
        else:
            found.notes.append(
                "feeds: no <link rel=alternate> feed, none at " + ", ".join(COMMON_FEEDS)
            )
    if not found.sitemaps:
        for path in COMMON_SITEMAPS:
            try:
                probe = fetcher.get(origin + path)
                kind, _ = parse_sitemap(probe.body)
            except (FetchError, ValueError):
                continue
            if kind in ("index", "urlset"):
                found.sitemaps.append((probe.url, f"common sitemap path {path}"))
                break
        else:
            found.notes.append(
                "sitemaps: robots.txt lists none, none at " + ", ".join(COMMON_SITEMAPS)
            )

    # Entries of feeds and sitemaps (one level of sitemap index followed, a few children).
    for url, _ in found.feeds:
        try:
            feed = fetcher.get(url)
            found.announced += [e.url for e in parse_feed(feed.body, feed.content_type)]
        except (FetchError, ValueError) as exc:
            found.notes.append(f"feed {url}: {exc}")
    queue = [url for url, _ in found.sitemaps]
    seen = 0
    while queue and seen < 8:
        url = queue.pop(0)
        seen += 1
        try:
            sitemap = fetcher.get(url)
            kind, entries = parse_sitemap(sitemap.body)
        except (FetchError, ValueError) as exc:
            found.notes.append(f"sitemap {url}: {exc}")
            continue
        found.sitemap_kinds[url] = kind
        if b"google.com/schemas/sitemap-news" in sitemap.body:
            found.news_sitemaps.append(url)
        if kind == "index":
            queue += [e.url for e in entries[:5]]
        else:
            found.announced += [e.url for e in entries]

    # Links of the home page and a few sections.
    def collect(urls: list[str]) -> None:
        for url in urls:
            link_host = (urlsplit(url).hostname or "").lower()
            if not _same_site(link_host, domain):
                continue
            if link_host != host and link_host != "www." + domain and link_host != domain:
                found.subdomains[link_host] += 1
            listing = LISTING.search(urlsplit(url).path)
            if listing:
                found.denied[listing.group(0).lower()] += 1
            elif url_signals(url):
                found.linked.append(url)

    collect(anchors)
    sections = [
        u
        for u in anchors
        if urlsplit(u).hostname == parts.hostname
        and re.fullmatch(r"/[A-Za-z0-9_-]+/", urlsplit(u).path)
        and not url_signals(u)
        and not LISTING.search(urlsplit(u).path)
    ]
    for url in sections[:max_sections]:
        try:
            section = fetcher.get(url)
        except FetchError as exc:
            found.notes.append(f"section {url}: {exc}")
            continue
        found.sections.append(url)
        collect(_links(section.body, section.url)[0])
    for url in found.announced:
        link_host = (urlsplit(url).hostname or "").lower()
        if _same_site(link_host, domain) and link_host not in (host, domain, "www." + domain):
            found.subdomains[link_host] += 1
    found.patterns = learn_patterns(found.announced + found.linked)
    if not found.patterns:
        found.notes.append("article URL patterns: no date path, numeric id or slug seen twice")
    return found


def _toml_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(_toml_str(v) for v in values) + "]"


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal(regex: str) -> str:
    # A TOML literal string keeps backslashes as they are; it cannot hold a single quote.
    return f"'{regex}'" if "'" not in regex else _toml_str(regex)


def render_config(found: Findings, *, cron: str = "*/30 * * * *") -> str:
    """Return the site config as TOML text, with a comment saying where each value came from."""
    domains = [found.domain, *sorted(found.subdomains)]
    lines = [
        f"# Written by `newswarc add-site {found.home}`; check it, then keep it in",
        "# settings/sites/. Every value says where it came from.",
        "",
        f"name = {_toml_str(found.name)}",
        "# The home page's domain (subdomains included); subdomains the site links to are listed",
        "# too, since links are followed only on the hosts listed here.",
    ]
    for sub, count in sorted(found.subdomains.items()):
        lines.append(f"#   {sub}: {count} links or entries")
    lines.append(f"allowed_domains = {_toml_list(domains)}")
    lines.append("# The home page, and the sections it links to that answered.")
    lines.append(f"start_urls = {_toml_list([found.home, *found.sections])}")
    for url, source in found.feeds:
        lines.append(f"# feed {url}: {source}")
    if not found.feeds:
        lines.append("# no feed found (no <link rel=alternate>, no feed at common paths)")
    lines.append(f"feeds = {_toml_list([u for u, _ in found.feeds])}")
    sitemaps = []
    for url, source in found.sitemaps:
        news = " (a Google News sitemap)" if url in found.news_sitemaps else ""
        lines.append(f"# sitemap {url}: {source}{news}")
        if not source.startswith("robots.txt"):
            sitemaps.append(url)
        elif found.sitemap_kinds.get(url) == "index":
            # Through "robots", an index's articles are 3 links away: past DEPTH_LIMIT (2).
            lines.append('#   a sitemap index: given by URL, not as "robots" (one hop fewer)')
            sitemaps.append(url)
        else:
            sitemaps.append("robots")
    for url in found.news_sitemaps:
        if url not in [u for u, _ in found.sitemaps]:
            lines.append(f"# Google News sitemap {url}: listed by a sitemap index")
    if not found.sitemaps:
        lines.append("# no sitemap found (robots.txt lists none, none at common paths)")
    lines.append(f"sitemaps = {_toml_list(list(dict.fromkeys(sitemaps)))}")
    lines += ["", "[articles]"]
    for p in found.patterns:
        lines.append(f"# {p.kind}: {p.count} URLs, e.g. {p.example}")
    if not found.patterns:
        lines.append("# no pattern seen twice: every page with an article's markup is a candidate")
    lines.append(f"allow = [{', '.join(_literal(p.regex) for p in found.patterns)}]")
    denied = sorted(found.denied)
    for segment in denied:
        lines.append(f"# {segment}: {found.denied[segment]} links to such listing pages")
    lines.append(f"deny = [{', '.join(_literal(re.escape(s)) for s in denied)}]")
    lines += ["", "[politeness]"]
    if found.crawl_delay is not None:
        lines.append(f"# robots.txt Crawl-delay: {found.crawl_delay:g}")
        lines.append(f"download_delay = {found.crawl_delay:g}")
        lines.append("concurrency = 1  # one request at a time, as a crawl delay asks")
    else:
        how = "no Crawl-delay in robots.txt" if found.robots_found else "no robots.txt"
        lines.append(f"# {how}: newswarc's gentle defaults")
        lines.append("download_delay = 1.0")
        lines.append("concurrency = 2")
    lines += [
        "",
        "[schedule]",
        f"cron = {_toml_str(cron)}  # default of add-site; news sites change all day",
        "window_hours = 48  # feed and sitemap entries older than this are skipped",
        "recrawl_hours = 0  # known articles are not fetched again",
        "",
    ]
    return "\n".join(lines)


@dataclass
class CheckResult:
    """What ``--check`` found on one candidate page."""

    url: str
    archived: bool
    title: str | None = None
    published: str | None = None
    authors: list[str] = field(default_factory=list)
    words: int = 0
    reason: str = ""

    def lines(self) -> list[str]:
        """Describe the page in a few lines."""
        if not self.archived:
            return [f"NOT ARCHIVED {self.url}: {self.reason}"]
        missing = [
            n
            for n, v in (("title", self.title), ("date", self.published), ("authors", self.authors))
            if not v
        ]
        return [
            f"ARTICLE {self.url}",
            f"  title:   {self.title or '-'}",
            f"  date:    {self.published or '-'}",
            f"  authors: {', '.join(self.authors) or '-'}",
            f"  words:   {self.words}",
            *([f"  not found: {', '.join(missing)}"] if missing else []),
        ]


def check(
    found: Findings, fetcher: Fetcher, *, limit: int = 5, min_chars: int = 400
) -> list[CheckResult]:
    """Fetch up to ``limit`` candidates and extract them as the crawl would."""
    from pipelines.detect import article_signals
    from pipelines.extract import extract_article

    results = []
    for url in found.candidates[:limit]:
        try:
            page = fetcher.get(url)
        except FetchError as exc:
            results.append(CheckResult(url, False, reason=str(exc)))
            continue
        html = page.body.decode("utf-8", "replace")
        if not article_signals(page.url, html) and url not in found.announced:
            results.append(CheckResult(url, False, reason="no article signal in URL or markup"))
            continue
        record = extract_article(page.body, page.url, content_type=page.content_type)
        chars = len(record["text"]) if record else 0
        if record is None or chars < min_chars:
            results.append(
                CheckResult(url, False, reason=f"{chars} characters of text (< {min_chars})")
            )
            continue
        results.append(
            CheckResult(
                url,
                True,
                title=record.get("title"),
                published=record.get("published"),
                authors=list(record.get("authors") or []),
                words=int(record.get("word_count") or 0),
            )
        )
    return results


def add_site(
    url: str,
    output: Path,
    fetcher: Fetcher,
    *,
    force: bool = False,
    run_check: bool = False,
    out: Callable[[str], object] = print,
) -> int:
    """Discover, write and check a site config; return the command's exit code."""
    if output.exists() and not force:
        out(f"newswarc add-site: {output} exists (use --force to replace it)")
        return 2
    try:
        found = discover(url, fetcher)
    except FetchError as exc:
        out(f"newswarc add-site: home page: {exc}")
        return 1
    text = render_config(found)
    with tempfile.TemporaryDirectory() as folder:
        # Checked before it goes among the site configs (the scheduler reads every *.toml).
        draft = Path(folder) / output.name
        draft.write_text(text, "utf-8")
        try:
            load_site(str(draft))
        except SiteConfigError as exc:  # a bug of ours: say so, write nothing
            out(f"newswarc add-site: the config fails its checks: {exc}\n{text}")
            return 1
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(text, "utf-8")
    tmp.replace(output)
    out(f"wrote {output} (site {found.name}; {fetcher.requests} requests)")
    out(
        f"  feeds {len(found.feeds)}, sitemaps {len(found.sitemaps)} "
        f"({len(found.news_sitemaps)} Google News), sections {len(found.sections)}, "
        f"patterns {', '.join(f'{p.kind} ({p.count})' for p in found.patterns) or 'none'}, "
        f"crawl-delay {found.crawl_delay if found.crawl_delay is not None else 'none'}"
    )
    for note in found.notes:
        out(f"  not found: {note}")
    if not run_check:
        return 0
    results = check(found, fetcher)
    archived = sum(r.archived for r in results)
    out(f"check: {archived} of {len(results)} candidates would be archived as articles")
    for result in results:
        for line in result.lines():
            out(line)
    return 0 if archived else 1


def cmd_add_site(args: argparse.Namespace) -> int:
    """Run ``newswarc add-site`` with the project's settings (User-Agent, allowed networks)."""
    from scrapy.utils.project import get_project_settings

    from crawler.netguard import AddressPolicy

    settings = get_project_settings()
    try:
        policy = AddressPolicy.from_settings(settings)
    except ValueError as exc:
        print(f"newswarc add-site: NEWSWARC_ALLOWED_NETWORKS: {exc}", file=sys.stderr)
        return 2
    fetcher = Fetcher(policy, user_agent=settings.get("USER_AGENT"), timeout=args.timeout)
    url = args.url if "://" in args.url else "https://" + args.url
    output = Path(args.output) if args.output else None
    if output is None:
        name = re.sub(r"[^A-Za-z0-9_.-]", "-", registrable_domain(urlsplit(url).hostname or ""))
        output = Path(args.sites) / f"{name}.toml"
    return add_site(url, output, fetcher, force=args.force, run_check=args.check)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``add-site URL [--check] [-o FILE] [--force]`` to the ``newswarc`` command.

    Args:
        subparsers: What ``ArgumentParser.add_subparsers()`` returned.

    """
    p = subparsers.add_parser(
        "add-site",
        help="write a site config from a news site's home page, robots.txt, feeds and sitemaps",
        description="Read the home page (links, <link rel=alternate> feeds), robots.txt "
        "(sitemaps, Crawl-delay), common feed and sitemap paths and a few sections; write a "
        "commented TOML site config that passes the config checks. --check then extracts a "
        "few candidate articles as the crawl would.",
    )
    p.add_argument("url", help="the site's home page")
    p.add_argument("--check", action="store_true", help="fetch a few candidates and extract them")
    p.add_argument("-o", "--output", help="config file (default: SITES/NAME.toml)")
    p.add_argument("--sites", default=str(SITES_DIR), help=f"folder of configs ({SITES_DIR})")
    p.add_argument("--force", action="store_true", help="replace an existing config")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per request (10)")
    p.set_defaults(func=cmd_add_site)
