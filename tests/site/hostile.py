"""A hostile and broken test site on raw sockets: bombs, drips, broken framing, loops, bad pages.

Two servers on 127.0.0.1: the main one serves every case below, linked from ``/``; the other
(``other_url``) has a robots.txt that never answers and one good article. Bodies are generated
as they are sent (bombs are streamed, never held in memory). ``requests`` logs what arrived.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import brotli

MIB = 1 << 20
BOMB_BYTES = 2 << 30  # 2 GiB of zeros, decompressed
BIG_BYTES = 12 * MIB  # oversized bodies (the test's DOWNLOAD_MAXSIZE is well below)
ROBOTS_BYTES = 3 * MIB
DRIP_SECONDS = 60  # a drip would last this long, one byte a second
ROBOTS_STALL = 30.0  # seconds the other server's robots.txt keeps the client waiting
REDIRECT_CHAIN = 15
RETRY_AFTER = 2  # seconds asked by the 429 and 503 pages

#: The good articles: path -> (title, paragraphs).
ARTICLES: dict[str, tuple[str, list[str]]] = {}


def _paragraphs(seed: str, count: int = 5) -> list[str]:
    words = [
        *("council", "harbour", "budget", "flood", "barrier", "residents", "engineers", "tides"),
        *("ministry", "vote", "contract", "funding", "report", "winter", "storms", "coastline"),
        *("families", "schools", "shipping"),
    ]
    out = []
    for i in range(count):
        picked = [words[(len(seed) * 7 + i * 5 + j * 3) % len(words)] for j in range(14)]
        out.append(
            f"{seed.capitalize()} paragraph {i + 1}: the {picked[0]} and the {picked[1]} "
            f"were discussed at length, as {' '.join(picked[2:8])} came up again, and "
            f"officials said the {' '.join(picked[8:])} would be reviewed before the spring."
        )
    return out


def article_html(title: str, paragraphs: list[str], extra: str = "") -> str:
    """Return an article page (``og:type`` article) with its paragraphs."""
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title><meta property='og:type' content='article'>"
        f"<meta property='og:title' content='{title}'>"
        "<meta name='author' content='Ada Reporter'>"
        "<meta property='article:published_time' content='2026-12-01T08:00:00Z'>"
        f"</head><body><nav><a href='/'>Home</a></nav><article><h1>{title}</h1>"
        f"<p class='byline'>By Ada Reporter</p>{body}{extra}</article></body></html>"
    )


for _path, _title in {
    "/news/2026/12/01/good-plain-story.html": "Good plain story about the harbour",
    "/news/2026/12/01/good-gzip-story.html": "Good gzipped story about the budget",
    "/news/2026/12/01/retry-429-story.html": "Story behind a 429 with Retry-After",
    "/news/2026/12/01/retry-503-story.html": "Story behind a 503 with an HTTP date",
}.items():
    ARTICLES[_path] = (_title, _paragraphs(_title.split()[0] + _path[-12:-5]))

TRUNCATED_GZIP = "/news/2026/12/01/truncated-gzip-story.html"
ARTICLES[TRUNCATED_GZIP] = (
    "Story whose gzip stream is cut",
    _paragraphs("truncated", 12),
)
#: Pages that pass: a charset the page gets wrong, and malformed HTML; each is an article.
ODD_ARTICLES = {
    "/news/2026/12/01/unknown-charset-story.html": "Story with an unknown charset label",
    "/news/2026/12/01/wrong-charset-story.html": "Story declared UTF-8 but sent in cp1252",
    "/news/2026/12/01/nul-bytes-story.html": "Story with NUL bytes in its markup",
    "/news/2026/12/01/broken-nesting-story.html": "Story with broken nesting",
    "/news/2026/12/01/deep-nesting-story.html": "Story inside 100000 nested divs",
}
OTHER_ARTICLE = "/news/2026/12/01/other-site-story.html"
DISALLOWED = "/private-a/secret.html"  # in the first lines of the huge robots.txt


class _Request:
    def __init__(self, method: str, target: str, headers: list[tuple[str, str]]) -> None:
        self.method = method
        self.path = target
        self.headers = headers


def _read_head(conn: socket.socket) -> _Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 65536:
            return None
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    method, target, _ = head[0].split(" ", 2)
    headers = []
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return _Request(method, target, headers)


def _head(status: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class Bombs:
    """Gzip and brotli streams of ``total`` zero bytes, prepared in a thread at start.

    Gzip: one MiB of zeros is deflated once after a full flush; the same block, repeated, is
    valid deflate data (~1 KB per MiB), so only the CRC takes time (about a second per GiB).
    Brotli: zeros streamed through the compressor a MiB at a time; its output (~190 bytes per
    MiB) is kept. Nothing of the decompressed size is ever held.
    """

    def __init__(self, total: int = BOMB_BYTES) -> None:
        self.total = total
        self._ready = threading.Event()
        self._crc = 0
        self._brotli = b""
        zeros = bytes(MIB)
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        comp.compress(zeros)
        comp.flush(zlib.Z_FULL_FLUSH)
        self._block = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
        self._end = comp.flush(zlib.Z_FINISH)
        threading.Thread(target=self._prepare, daemon=True).start()

    def _prepare(self) -> None:
        zeros = bytes(MIB)
        crc = 0
        comp = brotli.Compressor(quality=1)
        parts = []
        for _ in range(self.total // MIB):
            crc = zlib.crc32(zeros, crc)
            parts.append(comp.process(zeros))
        parts.append(comp.finish())
        self._crc = crc
        self._brotli = b"".join(parts)
        self._ready.set()

    def gzip(self) -> Iterator[bytes]:
        """Yield the gzip bomb."""
        self._ready.wait(60)
        yield b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
        for _ in range(self.total // MIB // 64):
            yield self._block * 64
        yield self._end + struct.pack("<II", self._crc, self.total & 0xFFFFFFFF)

    def brotli(self) -> Iterator[bytes]:
        """Yield the brotli bomb."""
        self._ready.wait(60)
        data = self._brotli
        for i in range(0, len(data), 64 * 1024):
            yield data[i : i + 64 * 1024]


def huge_robots() -> Iterator[bytes]:
    """Yield a robots.txt of ``ROBOTS_BYTES``: real rules first, then endless filler rules."""
    yield f"User-agent: *\nDisallow: {DISALLOWED}\n".encode()
    line = b"Disallow: /filler/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
    sent = 0
    batch = line * 1024
    while sent < ROBOTS_BYTES:
        yield batch
        sent += len(batch)


Handler = Callable[["HostileSite", socket.socket, _Request], None]


class HostileSite:
    """The hostile site; ``start()`` it, crawl ``base_url + "/"``, then read ``requests``."""

    def __init__(self, host: str = "127.0.0.1", bomb_bytes: int = BOMB_BYTES) -> None:
        self.host = host
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._conns: set[socket.socket] = set()
        self.port = 0
        self.other_port = 0
        self.routes: dict[str, Handler] = {}
        self.bombs = Bombs(bomb_bytes)
        self._build_routes()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> HostileSite:
        """Listen on two free ports and serve in background threads."""
        self.port = self._listen(other=False)
        self.other_port = self._listen(other=True)
        return self

    def _listen(self, *, other: bool) -> int:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        sock.listen(64)
        sock.settimeout(0.2)
        self._sockets.append(sock)
        thread = threading.Thread(target=self._accept, args=(sock, other), daemon=True)
        thread.start()
        self._threads.append(thread)
        return int(sock.getsockname()[1])

    def stop(self) -> None:
        """Stop serving and close every connection."""
        self._stop.set()
        for sock in self._sockets:
            sock.close()
        with self._lock:
            for conn in list(self._conns):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
        for thread in self._threads:
            thread.join(timeout=2)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def other_url(self) -> str:
        return f"http://{self.host}:{self.other_port}"

    def requested(self, path: str, *, other: bool = False) -> list[dict[str, Any]]:
        """Return the requests received for a path, oldest first."""
        port = self.other_port if other else self.port
        with self._lock:
            return [r for r in self.requests if r["path"] == path and r["port"] == port]

    # -- serving -----------------------------------------------------------------------

    def _accept(self, sock: socket.socket, other: bool) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn, other), daemon=True).start()

    def _serve(self, conn: socket.socket, other: bool) -> None:
        with self._lock:
            self._conns.add(conn)
        try:
            conn.settimeout(60)
            req = _read_head(conn)
            if req is None:
                return
            port = self.other_port if other else self.port
            with self._lock:
                self.requests.append(
                    {"path": req.path, "port": port, "time": time.time(), "headers": req.headers}
                )
            if other:
                self._serve_other(conn, req)
            else:
                self.routes.get(req.path, HostileSite._not_found)(self, conn, req)
        except OSError:
            pass  # the client hung up: expected for most of these pages
        finally:
            with self._lock:
                self._conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _serve_other(self, conn: socket.socket, req: _Request) -> None:
        if req.path == "/robots.txt":
            # Answer nothing at all until the client gives up.
            self._stop.wait(ROBOTS_STALL)
            return
        if req.path == OTHER_ARTICLE:
            page = article_html(
                "A story on a site whose robots.txt never answers", _paragraphs("other site")
            )
            self._send(conn, "200 OK", page.encode(), "text/html; charset=utf-8")
            return
        self._not_found(conn, req)

    def _send(
        self,
        conn: socket.socket,
        status: str,
        body: bytes,
        content_type: str,
        extra: list[tuple[str, str]] | None = None,
    ) -> None:
        headers = [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
            *(extra or []),
        ]
        conn.sendall(_head(status, headers) + body)

    def _stream(
        self,
        conn: socket.socket,
        parts: Iterator[bytes],
        content_type: str,
        extra: list[tuple[str, str]] | None = None,
    ) -> None:
        headers = [
            ("Content-Type", content_type),
            ("Transfer-Encoding", "chunked"),
            ("Connection", "close"),
            *(extra or []),
        ]
        conn.sendall(_head("200 OK", headers))
        for part in parts:
            if self._stop.is_set():
                return
            conn.sendall(_chunk(part))
        conn.sendall(b"0\r\n\r\n")

    def _not_found(self, conn: socket.socket, req: _Request) -> None:
        self._send(conn, "404 Not Found", b"<html><body>not here</body></html>", "text/html")

    # -- the pages ---------------------------------------------------------------------

    def _build_routes(self) -> None:
        r = self.routes
        r["/"] = HostileSite._index
        r["/robots.txt"] = lambda s, c, q: s._stream(c, huge_robots(), "text/plain")
        r[DISALLOWED] = lambda s, c, q: s._send(c, "200 OK", b"secret", "text/html")
        for path in ARTICLES:
            if path != TRUNCATED_GZIP:
                r[path] = HostileSite._article
        r[TRUNCATED_GZIP] = HostileSite._truncated_gzip
        for path in ODD_ARTICLES:
            r[path] = HostileSite._odd_article
        r["/bomb/gzip.html"] = lambda s, c, q: s._stream(
            c, s.bombs.gzip(), "text/html", [("Content-Encoding", "gzip")]
        )
        r["/bomb/brotli.html"] = lambda s, c, q: s._stream(
            c, s.bombs.brotli(), "text/html", [("Content-Encoding", "br")]
        )
        r["/big/announced.html"] = HostileSite._big_announced
        r["/big/chunked.html"] = lambda s, c, q: s._stream(
            c, (b"<p>" + b"x" * (MIB - 8) + b"</p>\n" for _ in range(BIG_BYTES // MIB)), "text/html"
        )
        r["/slow/drip.html"] = HostileSite._drip
        r["/redirect/loop-a"] = lambda s, c, q: s._redirect(c, "/redirect/loop-b")
        r["/redirect/loop-b"] = lambda s, c, q: s._redirect(c, "/redirect/loop-a")
        for i in range(REDIRECT_CHAIN):
            r[f"/redirect/chain/{i}"] = lambda s, c, q, i=i: s._redirect(
                c, f"/redirect/chain/{i + 1}"
            )
        r[f"/redirect/chain/{REDIRECT_CHAIN}"] = HostileSite._article_at_end
        r["/binary.html"] = lambda s, c, q: s._send(
            c, "200 OK", _binary(64 * 1024), "text/html; charset=utf-8"
        )
        # Linked without ".pdf": Scrapy's link extractor skips links that end in it.
        r["/documents/annual-report"] = lambda s, c, q: s._send(
            c, "200 OK", _PDF, "application/pdf"
        )
        r["/framing/short-length.html"] = HostileSite._short_length
        r["/framing/bad-chunk.html"] = HostileSite._bad_chunk
        r["/framing/cut-gzip.html"] = HostileSite._cut_gzip
        r["/framing/bad-header.html"] = HostileSite._bad_header
        r["/framing/bad-status.html"] = lambda s, c, q: c.sendall(
            b"HTTP/1.1 2OO Okay\r\nContent-Length: 2\r\n\r\nhi"
        )
        r["/retry/over-cap.html"] = lambda s, c, q: s._send(
            c, "429 Too Many Requests", b"slow down", "text/plain", [("Retry-After", "3600")]
        )
        r["/news/2026/12/01/retry-429-story.html"] = HostileSite._retry_429
        r["/news/2026/12/01/retry-503-story.html"] = HostileSite._retry_503

    def links(self) -> list[str]:
        """Return every path the index links to."""
        skip = {"/", "/robots.txt", DISALLOWED}
        paths = [p for p in self.routes if p not in skip and not p.startswith("/redirect/")]
        paths += ["/redirect/loop-a", "/redirect/chain/0", DISALLOWED]
        return paths

    def _index(self, conn: socket.socket, req: _Request) -> None:
        items = "".join(f"<li><a href='{p}'>{p}</a></li>" for p in self.links())
        items += f"<li><a href='{self.other_url}{OTHER_ARTICLE}'>other site</a></li>"
        page = f"<html><head><title>Hostile</title></head><body><ul>{items}</ul></body></html>"
        self._send(conn, "200 OK", page.encode(), "text/html; charset=utf-8")

    def _article(self, conn: socket.socket, req: _Request) -> None:
        title, paragraphs = ARTICLES[req.path]
        body = article_html(title, paragraphs).encode()
        if "gzip" in req.path:
            self._send(
                conn,
                "200 OK",
                gzip.compress(body),
                "text/html; charset=utf-8",
                [("Content-Encoding", "gzip")],
            )
        else:
            self._send(conn, "200 OK", body, "text/html; charset=utf-8")

    def _article_at_end(self, conn: socket.socket, req: _Request) -> None:
        page = article_html("The end of a long redirect chain", _paragraphs("chain end"))
        self._send(conn, "200 OK", page.encode(), "text/html; charset=utf-8")

    def _truncated_gzip(self, conn: socket.socket, req: _Request) -> None:
        title, paragraphs = ARTICLES[req.path]
        whole = gzip.compress(article_html(title, paragraphs).encode())
        # Framing is right (Content-Length of what is sent); the gzip stream inside is cut.
        self._send(
            conn,
            "200 OK",
            whole[: len(whole) * 4 // 5],
            "text/html; charset=utf-8",
            [("Content-Encoding", "gzip")],
        )

    def _odd_article(self, conn: socket.socket, req: _Request) -> None:
        title = ODD_ARTICLES[req.path]
        paragraphs = _paragraphs(title.split()[2])
        if "unknown-charset" in req.path:
            body = article_html(title, paragraphs).replace("<meta charset='utf-8'>", "").encode()
            self._send(conn, "200 OK", body, "text/html; charset=x-no-such-charset")
        elif "wrong-charset" in req.path:
            paragraphs[0] += " Café crème, déjà vu, naïve résumé."
            body = article_html(title, paragraphs).replace("<meta charset='utf-8'>", "")
            self._send(conn, "200 OK", body.encode("cp1252"), "text/html; charset=utf-8")
        elif "nul-bytes" in req.path:
            body = article_html(title, paragraphs).encode().replace(b"</p>", b"\x00</p>\x00")
            self._send(conn, "200 OK", body, "text/html; charset=utf-8")
        elif "broken-nesting" in req.path:
            broken = [f"<b><i>{p}</b></i><div>" for p in paragraphs]
            body = article_html(title, broken, "</span></table></td><li>").encode()
            self._send(conn, "200 OK", body, "text/html; charset=utf-8")
        else:  # deep nesting
            depth = 100_000
            inner = "".join(f"<p>{p}</p>" for p in paragraphs)
            extra = "<div>" * depth + inner + "</div>" * depth
            body = article_html(title, paragraphs[:1], extra).encode()
            self._send(conn, "200 OK", body, "text/html; charset=utf-8")

    def _big_announced(self, conn: socket.socket, req: _Request) -> None:
        conn.sendall(
            _head(
                "200 OK",
                [
                    ("Content-Type", "text/html"),
                    ("Content-Length", str(BIG_BYTES)),
                    ("Connection", "close"),
                ],
            )
        )
        line = b"<p>" + b"y" * 1020 + b"</p>"
        for _ in range(BIG_BYTES // len(line)):
            if self._stop.is_set():
                return
            conn.sendall(line)

    def _drip(self, conn: socket.socket, req: _Request) -> None:
        conn.sendall(
            _head("200 OK", [("Content-Type", "text/html"), ("Content-Length", "1000000")])
        )
        conn.sendall(b"<html><body><p>")
        for _ in range(DRIP_SECONDS):
            if self._stop.wait(1.0):
                return
            conn.sendall(b"z")

    def _redirect(self, conn: socket.socket, location: str) -> None:
        self._send(
            conn, "302 Found", b"", "text/html", [("Location", f"{self.base_url}{location}")]
        )

    def _short_length(self, conn: socket.socket, req: _Request) -> None:
        body = article_html("Story cut short by its server", _paragraphs("short")).encode()
        conn.sendall(
            _head(
                "200 OK",
                [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
            )
            + body[: len(body) // 2]
        )

    def _bad_chunk(self, conn: socket.socket, req: _Request) -> None:
        body = article_html("Story with broken chunks", _paragraphs("chunks")).encode()
        conn.sendall(
            _head(
                "200 OK",
                [("Content-Type", "text/html; charset=utf-8"), ("Transfer-Encoding", "chunked")],
            )
            + _chunk(body[:1000])
            + b"zz-not-a-size\r\n"
            + body[1000:]
        )

    def _cut_gzip(self, conn: socket.socket, req: _Request) -> None:
        page = article_html("Gzip cut by the connection", _paragraphs("cut"))
        body = gzip.compress(page.encode())
        conn.sendall(
            _head(
                "200 OK",
                [
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("Content-Encoding", "gzip"),
                    ("Content-Length", str(len(body))),
                ],
            )
            + body[: len(body) // 2]
        )

    def _bad_header(self, conn: socket.socket, req: _Request) -> None:
        body = article_html("Story with bad header bytes", _paragraphs("header")).encode()
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            b"X-Bad\x00Name: \xff\xfe\x01value\r\nNo colon on this line\r\n"
            + b"Content-Length: %d\r\n\r\n" % len(body)
            + body
        )

    def _retry_429(self, conn: socket.socket, req: _Request) -> None:
        if len(self.requested(req.path)) == 1:
            self._send(
                conn,
                "429 Too Many Requests",
                b"later",
                "text/plain",
                [("Retry-After", str(RETRY_AFTER))],
            )
        else:
            self._article(conn, req)

    def _retry_503(self, conn: socket.socket, req: _Request) -> None:
        if len(self.requested(req.path)) == 1:
            now = datetime.now(UTC).replace(microsecond=0)
            later = now + timedelta(seconds=RETRY_AFTER + 1)
            # An HTTP-date, relative to the server's own Date header.
            self._send(
                conn,
                "503 Service Unavailable",
                b"later",
                "text/plain",
                [
                    ("Date", format_datetime(now, usegmt=True)),
                    ("Retry-After", format_datetime(later, usegmt=True)),
                ],
            )
        else:
            self._article(conn, req)


def _binary(size: int) -> bytes:
    out = bytearray()
    state = 12345
    while len(out) < size:
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        out += state.to_bytes(4, "little")
    return b"\x89PNG\r\n\x1a\n" + bytes(out[:size])


_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
