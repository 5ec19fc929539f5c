"""A small local news site whose article template can change between runs (quality monitors)."""

from __future__ import annotations

import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_VOCABULARY = (
    "council harbour minister report budget flood river school police court market "
    "storm election winter hospital bridge railway museum festival farmers prices "
    "energy workers teachers station village coast plan vote study funding project "
    "residents officials"
)

WORDS = _VOCABULARY.split(" ")

#: normal: body in <article>, dates in meta, JSON-LD and <time>; dates_gone: no date anywhere;
#: body_in_script: the first paragraphs in the HTML, the rest in a JSON blob rendered client-side.
TEMPLATES = ("normal", "dates_gone", "body_in_script")


def _text(seed: str, paragraphs: int = 8) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(paragraphs):
        sentences = []
        for _ in range(3):
            words = [rng.choice(WORDS) for _ in range(rng.randint(9, 14))]
            sentences.append(" ".join(words).capitalize() + ".")
        out.append(" ".join(sentences))
    return out


class QualitySite:
    """Serve ``/`` (a listing of the current edition's stories) and ``/story/…`` articles.

    ``edition`` changes the story URLs (each run finds new articles, as a news site's home page
    does); ``template`` changes how articles are marked up. Loopback only.
    """

    def __init__(self, stories: int = 6) -> None:
        self.stories = stories
        self.edition = 1
        self.template = "normal"
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> QualitySite:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                status, body = site.page(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
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

    def story_paths(self) -> list[str]:
        return [
            f"/story/edition-{self.edition}-harbour-report-number-{k}.html"
            for k in range(1, self.stories + 1)
        ]

    def page(self, path: str) -> tuple[int, bytes]:
        if path == "/":
            links = "".join(
                f'<li><a href="{p}">Story {i} of edition {self.edition}</a></li>'
                for i, p in enumerate(self.story_paths(), 1)
            )
            html = (
                "<!doctype html><html lang=en><head><title>Harbour Daily</title></head><body>"
                f"<h1>Harbour Daily</h1><ul>{links}</ul><p>About us</p></body></html>"
            )
            return 200, html.encode()
        if path == "/robots.txt":
            return 200, b"User-agent: *\nAllow: /\n"
        if path in self.story_paths():
            return 200, self.article(path).encode()
        return 404, b"<html><body>not found</body></html>"

    def article(self, path: str) -> str:
        number = path.rsplit("-", 1)[-1].removesuffix(".html")
        title = f"Harbour report {number} of edition {self.edition}"
        paragraphs = _text(path)
        day = f"2026-12-{self.edition:02d}T08:30:00+00:00"
        dated = self.template != "dates_gone"
        meta = f'<meta property="article:published_time" content="{day}">' if dated else ""
        ld: dict[str, Any] = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": title,
            "author": {"@type": "Person", "name": "Jane Doe"},
        }
        if dated:
            ld["datePublished"] = day
        when = f'<time datetime="{day}">1 December 2026</time>' if dated else ""
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        if self.template == "body_in_script":
            blob = json.dumps({"body": paragraphs[3:]})
            body = "".join(f"<p>{p}</p>" for p in paragraphs[:3])
            body += f"<script type=application/json>{blob}</script>"
        return (
            "<!doctype html><html lang=en><head>"
            f"<title>{title} | Harbour Daily</title>{meta}"
            f'<script type="application/ld+json">{json.dumps(ld)}</script></head><body>'
            '<header><nav><a href="/">Home</a></nav></header>'
            f'<article><h1>{title}</h1><p class="byline">By Jane Doe</p>{when}{body}</article>'
            "<footer><p>Harbour Daily, all rights reserved</p></footer></body></html>"
        )
