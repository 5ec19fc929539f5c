"""Four small news sites on one loopback port, told apart by ``Host`` (add-site tests).

- ``www.feedonly.test``: a feed declared with ``<link rel=alternate>``, date-path articles, a
  section, robots.txt with a Crawl-delay and no sitemap;
- ``www.mapped.test``: no feed; robots.txt names a sitemap index and a Google News sitemap of
  numeric-id articles the home page does not link;
- ``www.plain.test``: no robots.txt, feed or sitemap; slug articles and tag pages linked;
- ``www.split.test``: articles on ``news.split.test``; a feed at a common path, undeclared.

Names under ``.test`` resolve to 127.0.0.1 only inside the tests (a resolver given to the
fetcher, a patched ``getaddrinfo`` in the crawl).
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .quality import _text

SHAPES = ("feedonly", "mapped", "plain", "split")


def article_html(title: str, path: str, published: str) -> str:
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": title,
        "datePublished": published,
        "author": {"@type": "Person", "name": "Sam Rivers"},
    }
    body = "".join(f"<p>{p}</p>" for p in _text(path))
    return (
        f"<!doctype html><html lang=en><head><title>{title}</title>"
        f'<meta property="article:published_time" content="{published}">'
        f'<script type="application/ld+json">{json.dumps(ld)}</script></head><body>'
        f'<nav><a href="/">Home</a></nav><article><h1>{title}</h1>'
        f'<p class="byline">By Sam Rivers</p>{body}</article></body></html>'
    )


class ShapeSites:
    """Serve the four sites; ``articles(shape)`` lists each site's article URLs."""

    def __init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self.requests: list[tuple[str, str]] = []

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def origin(self, host: str) -> str:
        return f"http://{host}:{self.port}"

    def home(self, shape: str) -> str:
        return self.origin(f"www.{shape}.test") + "/"

    def articles(self, shape: str) -> list[str]:
        """Every article URL of a site (what a crawl from its config should archive)."""
        if shape == "feedonly":
            o = self.origin("www.feedonly.test")
            return [f"{o}/2026/12/0{k}/harbour-dredging-plan-stage-{k}.html" for k in range(1, 6)]
        if shape == "mapped":
            o = self.origin("www.mapped.test")
            return [f"{o}/news/12345{k}.html" for k in range(1, 6)]
        if shape == "plain":
            o = self.origin("www.plain.test")
            return [f"{o}/story/river-bridge-repairs-begin-part-{k}/" for k in range(1, 5)]
        o = self.origin("news.split.test")
        return [f"{o}/2026/12/01/winter-storm-closes-schools-{k}.html" for k in range(1, 5)]

    def start(self) -> ShapeSites:
        sites = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
                sites.requests.append((host, self.path))
                status, kind, body = sites.page(host, self.path)
                self.send_response(status)
                if status in (301, 302):
                    self.send_header("Location", body.decode())
                    body = b""
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- pages -------------------------------------------------------------------------------

    def page(self, host: str, path: str) -> tuple[int, str, bytes]:
        html = "text/html; charset=utf-8"
        if host == "www.redirect.test":  # a redirect to a private address, and one to a site
            target = "http://10.0.0.1/" if path == "/private" else self.home("plain")
            return 302, html, target.encode()
        shape = host.split(".")[-2] if host.endswith(".test") else ""
        now = datetime.now(UTC)
        articles = self.articles(shape) if shape in SHAPES else []
        by_path = {a.split(str(self.port), 1)[1]: a for a in articles}
        article_host = "news.split.test" if shape == "split" else f"www.{shape}.test"
        if host == article_host and path in by_path:
            number = path.rstrip("/").rsplit("-", 1)[-1].removesuffix(".html")
            title = f"{shape.capitalize()} story {number}: the harbour council votes"
            published = (now - timedelta(hours=2)).isoformat(timespec="seconds")
            return 200, html, article_html(title, path, published).encode()
        if host != f"www.{shape}.test":
            return 404, html, b"<html><body>nothing here</body></html>"
        origin = self.origin(host)
        robots = {
            "feedonly": "User-agent: *\nCrawl-delay: 0.2\nDisallow: /private/\n",
            "mapped": f"User-agent: *\nCrawl-delay: 0.2\nSitemap: {origin}/sitemap_index.xml\n",
            "split": "User-agent: *\nCrawl-delay: 0.2\n",
        }
        if path == "/robots.txt" and shape in robots:
            return 200, "text/plain", robots[shape].encode()
        if path == "/":
            return 200, html, self._home(shape, origin, articles).encode()
        if path == "/world/" and shape in ("feedonly", "mapped"):
            links = articles[3:] if shape == "feedonly" else []
            items = "".join(f'<li><a href="{u}">More {i}</a></li>' for i, u in enumerate(links))
            return 200, html, f"<html><body><h1>World</h1><ul>{items}</ul></body></html>".encode()
        if path == "/tag/harbour/" and shape == "plain":
            items = "".join(f'<a href="{u}">Tagged</a>' for u in articles)
            return 200, html, f"<html><body>{items}</body></html>".encode()
        if (shape, path) in (("feedonly", "/rss.xml"), ("split", "/feed")):
            return 200, "application/rss+xml", self._rss(articles, now).encode()
        if shape == "mapped" and path == "/sitemap_index.xml":
            body = (
                '<?xml version="1.0"?><sitemapindex '
                'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"<sitemap><loc>{origin}/news-sitemap.xml</loc></sitemap></sitemapindex>"
            )
            return 200, "application/xml", body.encode()
        if shape == "mapped" and path == "/news-sitemap.xml":
            urls = "".join(
                f"<url><loc>{u}</loc><news:news><news:publication><news:name>Mapped</news:name>"
                "<news:language>en</news:language></news:publication><news:publication_date>"
                f"{(now - timedelta(hours=3)).isoformat(timespec='seconds')}"
                f"</news:publication_date><news:title>Story</news:title></news:news></url>"
                for u in articles
            )
            body = (
                '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
                ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
                f"{urls}</urlset>"
            )
            return 200, "application/xml", body.encode()
        return 404, html, b"<html><body>not found</body></html>"

    def _home(self, shape: str, origin: str, articles: list[str]) -> str:
        head = ""
        links: list[str] = []
        if shape == "feedonly":
            head = '<link rel="alternate" type="application/rss+xml" href="/rss.xml" title="RSS">'
            links = [*articles[:3], "/world/", "/about.html"]
        elif shape == "mapped":
            links = ["/world/", "/about.html", "https://elsewhere.example/"]
        elif shape == "plain":
            links = [*articles, "/tag/harbour/", "/author/sam-rivers/"]
        else:
            links = [*articles, "/about.html"]
        items = "".join(f'<li><a href="{u}">Link {i}</a></li>' for i, u in enumerate(links))
        return (
            f"<!doctype html><html lang=en><head><title>{shape} news</title>{head}</head>"
            f"<body><h1>{shape} news</h1><ul>{items}</ul></body></html>"
        )

    def _rss(self, articles: list[str], now: datetime) -> str:
        items = "".join(
            f"<item><title>Story {i}</title><link>{u}</link>"
            f"<pubDate>{format_datetime(now - timedelta(hours=i + 1))}</pubDate></item>"
            for i, u in enumerate(articles)
        )
        channel = f"<channel><title>News</title>{items}</channel>"
        return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'
