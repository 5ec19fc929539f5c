"""Serve realistic ~80 KB article pages built from the fixture pages, for the throughput bench.

Each page is one of the handwritten fixture pages (test site and extraction corpus: real-world
markup, scripts, related blocks, several charsets) grown to about 80 KB with more of its own
chrome (nav, aside, footer), as real news pages are, and made distinct by a page number.
"""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = 80 * 1024


def fixture_pages() -> list[bytes]:
    """Return the fixture article pages (bytes as stored)."""
    site = ROOT / "tests/fixtures/site/pages"
    pages = [
        p.read_bytes()
        for p in sorted(site.glob("news/**/*.html")) + sorted(site.glob("ar/**/*.html"))
    ]
    pages += [
        p.read_bytes() for p in sorted((ROOT / "tests/fixtures/extraction/pages").glob("*.html"))
    ]
    return pages


def _filler(number: int, kind: int) -> bytes:
    """Return one block of the weight real pages carry besides the article."""
    if kind == 0:  # inline state/config script
        items = ",".join(
            f'{{"id":{number * 1000 + i},"slot":"ad-{i}","sizes":[[300,250],[728,90]],'
            f'"targeting":{{"section":"news","pos":"{i}"}}}}'
            for i in range(60)
        )
        return f'<script>window.__STATE__={{"page":{number},"slots":[{items}]}};</script>'.encode()
    if kind == 1:  # inline SVG icon sprite
        paths = "".join(
            f'<symbol id="i{i}" viewBox="0 0 24 24">'
            f'<path d="M{i} 2L{i + 3} 9H22L16 14L18 22L12 17L6 22'
            f'L8 14L2 9H9Z"/></symbol>'
            for i in range(40)
        )
        return (
            f'<svg style="display:none" xmlns="http://www.w3.org/2000/svg">{paths}</svg>'.encode()
        )
    # mega footer: sections with many links
    cols = "".join(
        f'<div class="col"><h4>Section {c}</h4><ul>'
        + "".join(f'<li><a href="/section/{c}/{i}/">Topic {c}-{i}</a></li>' for i in range(25))
        + "</ul></div>"
        for c in range(6)
    )
    return f'<footer class="mega"><nav>{cols}</nav><p>© News Group {number}</p></footer>'.encode()


def grow(page: bytes, number: int, base_url: str) -> bytes:
    """Return ``page`` grown to about 80 KB with scripts, icons and footer links, numbered."""
    page = page.replace(b"__BASE_URL__", base_url.encode())
    page = re.sub(rb"</title>", f" #{number}</title>".encode(), page, count=1, flags=re.IGNORECASE)
    extra: list[bytes] = []
    kind = 0
    while len(page) + sum(map(len, extra)) < TARGET:
        extra.append(_filler(number, kind % 3))
        kind += 1
    cut = page.lower().rfind(b"</body>")
    cut = cut if cut >= 0 else len(page)
    return page[:cut] + b"".join(extra) + page[cut:]


class CorpusSite:
    """``/real/index-K.html`` listings (100 links each) and ``/real/NNNNNN.html`` pages."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.pages = fixture_pages()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                body, ctype = site.render(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def render(self, path: str) -> tuple[bytes, str]:
        if m := re.fullmatch(r"/real/index-(\d+)\.html", path):
            k = int(m.group(1))
            first = (k - 1) * 100 + 1
            links = "".join(
                f'<li><a href="/real/{n:06d}.html">Story {n}</a></li>'
                for n in range(first, min(first + 100, self.count + 1))
            )
            nxt = (
                f'<a href="/real/index-{k + 1}.html">next</a>' if first + 100 <= self.count else ""
            )
            html = (
                f"<html><head><title>Archive {k}</title></head>"
                f"<body><ul>{links}</ul>{nxt}</body></html>"
            )
            return html.encode(), "text/html; charset=utf-8"
        if m := re.fullmatch(r"/real/(\d{6})\.html", path):
            n = int(m.group(1))
            if 1 <= n <= self.count:
                # Charset left to the page's own declaration, as many sites do.
                return grow(self.pages[n % len(self.pages)], n, self.base_url), "text/html"
        if path == "/robots.txt":
            return b"User-agent: *\nAllow: /\n", "text/plain"
        return b"", "text/plain"

    def __enter__(self) -> CorpusSite:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
