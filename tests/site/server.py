"""Local HTTP/1.1 news site (static fixture pages plus generated pages) for crawler tests."""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import socket
import struct
import sys
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from .generated import GeneratedPages

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "site"
PAGES = FIXTURES / "pages"
EXPECTED = FIXTURES / "expected.json"
BASE_PLACEHOLDER = "__BASE_URL__"
GEN_PLACEHOLDER = "<!--gen-archive-->"

COOKIES = (
    "dm_session=5f3c9a1e7b2d4086; Path=/; HttpOnly; SameSite=Lax",
    "dm_consent=pending; Path=/; Max-Age=31536000; SameSite=Lax",
)
REDIRECTS = {"/old/story-123": "/news/2026/11/26/moved-story.html"}
CHUNK_SIZES = (1500, 4096, 7000, 2048, 8192, 3000)
HTML_UTF8 = "text/html; charset=utf-8"
# Pages that are no articles answer with validators, as most sites' listings do, so crawlers can
# ask for them conditionally; articles answer without (a recrawl gets the whole page).
VALIDATED = ("/", "/world/", "/arabic/", "/about.html", "/private/secret.html")
STATIC_LAST_MODIFIED = "Sat, 28 Nov 2026 06:00:00 GMT"
LATEST = "/latest/"


@dataclass(frozen=True)
class Route:
    """How one static page is served.

    Fixture files are stored as UTF-8 on disk; ``encoding`` is the charset of the bytes on
    the wire, ``bom`` prepends a UTF-8 byte order mark, ``transport`` is "plain", "gzip"
    (when the client accepts it) or "chunked" (HTTP/1.1 clients only).
    """

    file: str
    content_type: str = HTML_UTF8
    encoding: str = "utf-8"
    transport: str = "plain"
    bom: bool = False
    cookies: bool = False


ROUTES: dict[str, Route] = {
    "/": Route("index.html", cookies=True),
    "/world/": Route("world/index.html"),
    "/arabic/": Route("arabic/index.html"),
    "/about.html": Route("about.html"),
    "/private/secret.html": Route("private/secret.html"),
    "/news/2026/11/27/port-strike-talks-collapse.html": Route(
        "news/2026/11/27/port-strike-talks-collapse.html", transport="gzip"
    ),
    "/news/2026/11/26/city-council-approves-flood-barrier.html": Route(
        "news/2026/11/26/city-council-approves-flood-barrier.html", transport="chunked"
    ),
    "/news/2026/11/26/moved-story.html": Route("news/2026/11/26/moved-story.html"),
    "/news/2026/11/25/big-photo-gallery.html": Route("news/2026/11/25/big-photo-gallery.html"),
    "/ar/2026/11/24/123290.html": Route(
        "ar/2026/11/24/123290.html",
        content_type="text/html; charset=windows-1256",
        encoding="cp1256",
    ),
    "/ar/2026/11/27/123401.html": Route(
        "ar/2026/11/27/123401.html", content_type="text/html", encoding="cp1256"
    ),
    "/ar/2026/11/26/123377.html": Route("ar/2026/11/26/123377.html"),
    "/ar/2026/11/28/123456.html": Route("ar/2026/11/28/123456.html"),
    "/ar/2026/11/23/123265.html": Route(
        "ar/2026/11/23/123265.html", content_type="text/html", bom=True
    ),
}

# Announced in the feed and the news sitemap, but older than any crawl window.
OLD_STORY = "/news/2019/01/01/old-story.html"

# Pages listed in the sitemap: everything linked from the home page (not the redirect target).
SITEMAP_PATHS = (
    "/",
    "/world/",
    "/arabic/",
    "/about.html",
    "/news/2026/11/27/port-strike-talks-collapse.html",
    "/news/2026/11/26/city-council-approves-flood-barrier.html",
    "/news/2026/11/25/big-photo-gallery.html",
    "/ar/2026/11/28/123456.html",
    "/ar/2026/11/27/123401.html",
    "/ar/2026/11/26/123377.html",
    "/ar/2026/11/24/123290.html",
    "/ar/2026/11/23/123265.html",
)

NOT_FOUND_HTML = (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
    "<title>Page not found | Daily Meridian</title>\n</head>\n<body>\n"
    "<h1>Page not found</h1>\n<p>Sorry, we couldn’t find that page. "
    'It may have been moved or deleted.</p>\n<p><a href="/">Go to the home page</a></p>\n'
    "</body>\n</html>\n"
).encode()

STATIC_CSS = b"""/* Daily Meridian non-critical styles */
.site-index{display:grid;grid-template-columns:repeat(auto-fill,minmax(10rem,1fr));gap:1rem;
max-width:80rem;margin:0 auto;padding:1rem 2rem;font-size:.8125rem}
.site-index ul{list-style:none;margin:0;padding:0}
.archive-list li{margin:.35rem 0}
.ticker__list{columns:3;font-size:.8125rem}
"""
STATIC_JS = b"""/* Daily Meridian app bundle (test build) */
(function(){"use strict";window.dm=window.dm||{};window.dm.ready=true;})();
"""
FAVICON_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    b'<rect width="32" height="32" rx="6" fill="#0b2545"/>'
    b'<text x="16" y="22" font-size="16" text-anchor="middle" fill="#fff">DM</text></svg>'
)
_IMG_RE = re.compile(r"^/(?:img|static)/[A-Za-z0-9_.-]+\.png$")


def load_expected() -> dict[str, Any]:
    """Parsed tests/fixtures/site/expected.json."""
    data: dict[str, Any] = json.loads(EXPECTED.read_text(encoding="utf-8"))
    return data


def _png(width: int = 16, height: int = 9, rgb: tuple[int, int, int] = (200, 196, 186)) -> bytes:
    """A small solid-colour PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    row = b"\x00" + bytes(rgb) * width
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(row * height, 9))
        + chunk(b"IEND", b"")
    )


PNG = _png()


def accepts_gzip(accept_encoding: str | None) -> bool:
    """True if an Accept-Encoding header value allows gzip (q > 0)."""
    if not accept_encoding:
        return False
    star: bool | None = None
    for item in accept_encoding.split(","):
        parts = [p.strip() for p in item.split(";")]
        coding = parts[0].lower()
        q = 1.0
        for param in parts[1:]:
            if param.lower().startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            return q > 0
        if coding == "*":
            star = q > 0
    return bool(star)


@dataclass
class _Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    chunked: bool = False


def _not_modified(headers: list[tuple[str, str]], request: Any) -> bool:
    """Tell whether a conditional request's validators still match (RFC 9110 13.2.2)."""
    found = dict(headers)
    etag, modified = found.get("ETag"), found.get("Last-Modified")
    if_none_match = request.get("If-None-Match")
    if if_none_match is not None:
        return etag is not None and etag in (t.strip() for t in if_none_match.split(","))
    since = request.get("If-Modified-Since")
    if since and modified:
        try:
            return parsedate_to_datetime(modified) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def _validators(body: bytes, last_modified: str) -> list[tuple[str, str]]:
    etag = '"' + zlib.crc32(body).to_bytes(4, "big").hex() + '"'
    return [("ETag", etag), ("Last-Modified", last_modified)]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    site: NewsSite


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "DailyMeridian/1.0"
    sys_version = ""
    timeout = 30  # idle keep-alive connections are closed after this many seconds
    disable_nagle_algorithm = True
    server: _Server

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        self.server.site._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.site._track(self.connection, add=False)

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_POST(self) -> None:
        self._serve(head=False, allowed=False)

    def do_PUT(self) -> None:
        self._serve(head=False, allowed=False)

    def do_DELETE(self) -> None:
        self._serve(head=False, allowed=False)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.site.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def _serve(self, *, head: bool, allowed: bool = True) -> None:
        site = self.server.site
        site._log_request(self.command, self.path, list(self.headers.items()))
        length = self.headers.get("Content-Length")
        if length and length.isdigit():
            self.rfile.read(int(length))  # drain any request body to keep the connection usable
        if site.delay > 0:
            time.sleep(site.delay)
        if allowed:
            http11 = self.request_version == "HTTP/1.1"
            resp = site._respond(self.path, self.headers.get("Accept-Encoding"), http11)
            if resp.status == 200 and _not_modified(resp.headers, self.headers):
                kept = [(k, v) for k, v in resp.headers if k in ("ETag", "Last-Modified")]
                resp = _Response(304, kept, b"")
        else:
            headers = [("Allow", "GET, HEAD"), ("Content-Type", "text/plain; charset=utf-8")]
            resp = _Response(405, headers, b"Method not allowed\n")
        body = b"" if head else resp.body
        site._record_sent(self.path, body)
        try:
            self._write(resp, head)
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def _write(self, resp: _Response, head: bool) -> None:
        self.send_response(resp.status)
        for name, value in resp.headers:
            self.send_header(name, value)
        if resp.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(resp.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        elif self.request_version == "HTTP/1.0":
            self.send_header("Connection", "keep-alive")
        self.end_headers()
        if head:
            return
        if not resp.chunked:
            self.wfile.write(resp.body)
            return
        pos, i = 0, 0
        while pos < len(resp.body):
            piece = resp.body[pos : pos + CHUNK_SIZES[i % len(CHUNK_SIZES)]]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            pos += len(piece)
            i += 1
        self.wfile.write(b"0\r\n\r\n")


class NewsSite:
    """A small realistic news site served over real HTTP/1.1 on 127.0.0.1.

    ``requests`` logs every request ({"method", "path", "headers", "time"}), ``sent(path)``
    returns the exact body bytes sent for each request of ``path`` (after gzip, before
    chunk framing). ``generated=N`` adds ``/gen/index-K.html`` listings and N generated
    ``/gen/NNNNNN.html`` articles; ``delay`` sleeps that many seconds before each answer.
    ``/latest/`` is a section page linking every announced article, newest first, published
    ones included. Listing pages answer with ``ETag`` and ``Last-Modified`` and honour
    ``If-None-Match`` and ``If-Modified-Since``; articles answer without validators.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        generated: int = 0,
        delay: float = 0.0,
        verbose: bool = False,
        record: bool = True,
    ) -> None:
        self.host = host
        # Benchmarks serve thousands of pages: they turn the request and body logs off.
        self.record = record
        self.port = port
        self.generated = generated
        self.delay = delay
        self.verbose = verbose
        self.requests: list[dict[str, Any]] = []
        self._sent: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._bodies: dict[str, bytes] = {}
        self._gzipped: dict[str, bytes] = {}
        self._gen: GeneratedPages | None = None
        self._overrides: dict[str, bytes | None] = {}
        self._announced: list[tuple[str, str]] = []
        self._modified: dict[str, str] = {}
        self._latest_modified = STATIC_LAST_MODIFIED

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> NewsSite:
        """Bind, prepare the pages and serve in a daemon thread."""
        if self._server is not None:
            return self
        server = _Server((self.host, self.port), _Handler)
        server.site = self
        self._server = server
        self.port = server.server_address[1]
        self._prepare()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_forever(self) -> None:
        """Start and block until interrupted (used by ``python -m tests.site``)."""
        self.start()
        try:
            while True:
                time.sleep(3600)
        finally:
            self.stop()

    def __enter__(self) -> NewsSite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` of the running site."""
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on this site."""
        return self.base_url + path

    # -- inspection -------------------------------------------------------------------------

    def sent(self, path: str) -> list[bytes]:
        """Body bytes sent for each request of ``path`` (query string optional), in order."""
        with self._lock:
            return [
                body
                for target, body in self._sent
                if target == path or target.split("?", 1)[0] == path
            ]

    def requested_paths(self) -> list[str]:
        """Paths of all requests received so far, in order."""
        with self._lock:
            return [r["path"] for r in self.requests]

    def generated_paths(self) -> list[str]:
        """All generated paths (index pages first), empty when ``generated`` is 0."""
        return self._gen.paths() if self._gen is not None else []

    def body(self, path: str) -> bytes:
        """Identity (un-gzipped) body bytes a static page is served with."""
        return self._bodies[path]

    # -- internals --------------------------------------------------------------------------

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def _log_request(self, method: str, path: str, headers: list[tuple[str, str]]) -> None:
        if not self.record:
            return
        entry = {"method": method, "path": path, "headers": headers, "time": time.time()}
        with self._lock:
            self.requests.append(entry)

    def _record_sent(self, path: str, body: bytes) -> None:
        if not self.record:
            return
        with self._lock:
            self._sent.append((path, body))

    def _prepare(self) -> None:
        base = self.base_url
        for path, route in ROUTES.items():
            text = (PAGES / route.file).read_text(encoding="utf-8").replace(BASE_PLACEHOLDER, base)
            if path == "/":
                link = '<li><a href="/gen/index-1.html">Archive</a></li>' if self.generated else ""
                text = text.replace(GEN_PLACEHOLDER, link)
            data = text.encode(route.encoding)
            if route.bom:
                data = b"\xef\xbb\xbf" + data
            self._bodies[path] = data
            if route.transport == "gzip":
                self._gzipped[path] = gzip.compress(data, compresslevel=6, mtime=0)
        self._bodies["/robots.txt"] = (
            f"# Daily Meridian\nUser-agent: *\nDisallow: /private/\n\nSitemap: {base}/sitemap.xml\n"
        ).encode()
        expected = load_expected()
        self._announced = sorted(
            (e["published"], p)
            for p, e in expected.items()
            if not p.startswith("_") and e.get("kind") == "article"
        )
        self._announced.insert(0, ("2019-01-01T08:00:00+00:00", OLD_STORY))
        self._build_feeds()
        if self.generated > 0:
            self._gen = GeneratedPages(self.generated, base)

    # -- a site that changes between crawls --------------------------------------------------

    def publish(self, path: str, body: bytes, published: str) -> None:
        """Serve a new article at ``path`` and announce it in the feed and the news sitemap."""
        with self._lock:
            self._overrides[path] = body
            self._announced.append((published, path))
        self._build_feeds()

    def edit(self, path: str, body: bytes, modified: str | None = None) -> None:
        """Serve ``body`` at an existing path from now on (an edited article).

        With ``modified`` (ISO 8601), the sitemaps give it as the page's ``lastmod``.
        """
        with self._lock:
            self._overrides[path] = body
            if modified is not None:
                self._modified[path] = modified
        if modified is not None:
            self._build_feeds()

    def withdraw(self, path: str) -> None:
        """Answer 404 at ``path`` from now on (the feed still lists it, as feeds lag)."""
        with self._lock:
            self._overrides[path] = None

    def _build_feeds(self) -> None:
        """(Re)build the RSS feed and the Google News sitemap from the announced articles."""
        base = self.base_url
        dated = sorted(self._announced)
        items = "".join(
            f"<item><title>{p}</title><link>{base}{p}</link>"
            f"<pubDate>{format_datetime(datetime.fromisoformat(d))}</pubDate></item>\n"
            for d, p in dated
        )
        feed = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
            f"<title>Daily Meridian</title><link>{base}/</link>\n{items}</channel></rss>\n"
        ).encode()
        modified = dict(self._modified)

        def lastmod(path: str) -> str:
            return f"<lastmod>{modified[path]}</lastmod>" if path in modified else ""

        news = "".join(
            f"<url><loc>{base}{p}</loc>{lastmod(p)}<news:news><news:publication>"
            f"<news:name>Daily Meridian</news:name>"
            f"<news:language>{'ar' if p.startswith('/ar/') else 'en'}</news:language>"
            f"</news:publication><news:publication_date>{d}</news:publication_date>"
            f"<news:title>{p}</news:title></news:news></url>\n"
            for d, p in dated
        )
        sitemap = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n{news}</urlset>\n'
        ).encode()
        # The robots.txt sitemap: the site's pages, and what was published since.
        pages = [(p, "2026-11-28") for p in SITEMAP_PATHS]
        pages += [(p, d) for d, p in dated if p in self._overrides and p not in SITEMAP_PATHS]
        urls = "".join(
            f"<url><loc>{base}{p}</loc><lastmod>{modified.get(p, d)}</lastmod></url>\n"
            for p, d in pages
        )
        robots_sitemap = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n'
        ).encode()
        items_html = "".join(
            f'<li><a href="{p}">{p.rsplit("/", 1)[-1]}</a> <time>{d}</time></li>\n'
            for d, p in reversed(dated)
            if p != OLD_STORY
        )
        latest = (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            "<title>Latest news | Daily Meridian</title></head><body>\n"
            f'<h1>Latest news</h1>\n<ul class="latest">\n{items_html}</ul>\n'
            '<p><a href="/">Home</a></p>\n</body></html>\n'
        ).encode()
        newest = max(datetime.fromisoformat(d) for d, _ in dated)
        with self._lock:
            self._bodies["/feed.xml"] = feed
            self._bodies["/news-sitemap.xml"] = sitemap
            self._bodies["/sitemap.xml"] = robots_sitemap
            # A sitemap index (listing itself too, as broken ones do) over the news sitemap.
            self._bodies["/sitemap-index.xml"] = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
                f"<sitemap><loc>{base}/news-sitemap.xml</loc></sitemap>\n"
                f"<sitemap><loc>{base}/sitemap-index.xml</loc></sitemap>\n</sitemapindex>\n"
            ).encode()
            self._bodies[LATEST] = latest
            self._latest_modified = format_datetime(newest.astimezone(UTC), usegmt=True)

    def _respond(self, target: str, accept_encoding: str | None, http11: bool) -> _Response:
        path = urlsplit(target).path or "/"
        common = [("Cache-Control", "public, max-age=60"), ("X-Content-Type-Options", "nosniff")]
        if path in self._overrides:
            body = self._overrides[path]
            if body is None:
                return _Response(404, [("Content-Type", HTML_UTF8)], NOT_FOUND_HTML)
            return _Response(200, [("Content-Type", HTML_UTF8), *common], body)
        route = ROUTES.get(path)
        if route is not None:
            headers = [("Content-Type", route.content_type), *common]
            body = self._bodies[path]
            if path in VALIDATED:
                headers += _validators(body, STATIC_LAST_MODIFIED)
            if route.cookies:
                headers += [("Set-Cookie", c) for c in COOKIES]
            if route.transport == "gzip":
                headers.append(("Vary", "Accept-Encoding"))
                if accepts_gzip(accept_encoding):
                    headers.append(("Content-Encoding", "gzip"))
                    body = self._gzipped[path]
            chunked = route.transport == "chunked" and http11
            return _Response(200, headers, body, chunked=chunked)
        if path in REDIRECTS:
            loc = REDIRECTS[path]
            body = (
                f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Moved</title></head>'
                f'<body><p>This story has moved to <a href="{loc}">{loc}</a>.</p></body></html>\n'
            ).encode()
            return _Response(301, [("Location", loc), ("Content-Type", HTML_UTF8), *common], body)
        if path == "/robots.txt":
            return _Response(
                200, [("Content-Type", "text/plain; charset=utf-8")], self._bodies[path]
            )
        if path in ("/sitemap.xml", "/sitemap-index.xml"):
            return _Response(200, [("Content-Type", "application/xml")], self._bodies[path])
        if path in ("/feed.xml", "/news-sitemap.xml"):
            # Validators, so crawlers can ask for them conditionally.
            body = self._bodies[path]
            etag = '"' + zlib.crc32(body).to_bytes(4, "big").hex() + '"'
            kind = "application/rss+xml" if path == "/feed.xml" else "application/xml"
            return _Response(200, [("Content-Type", kind), ("ETag", etag)], body)
        if path == LATEST:
            with self._lock:
                body, modified = self._bodies[LATEST], self._latest_modified
            headers = [("Content-Type", HTML_UTF8), *common, *_validators(body, modified)]
            return _Response(200, headers, body)
        if path.startswith("/gen/") and self._gen is not None:
            gen = self._gen.get(path)
            if gen is not None:
                headers = [("Content-Type", HTML_UTF8), *common]
                if "/index-" in path:
                    headers += _validators(gen, STATIC_LAST_MODIFIED)
                return _Response(200, headers, gen)
        if _IMG_RE.match(path):
            return _Response(200, [("Content-Type", "image/png"), *common], PNG)
        if path == "/static/site.css":
            return _Response(
                200, [("Content-Type", "text/css; charset=utf-8"), *common], STATIC_CSS
            )
        if path == "/static/app.js":
            return _Response(200, [("Content-Type", "text/javascript"), *common], STATIC_JS)
        if path == "/static/favicon.svg":
            return _Response(200, [("Content-Type", "image/svg+xml"), *common], FAVICON_SVG)
        return _Response(404, [("Content-Type", HTML_UTF8)], NOT_FOUND_HTML)
