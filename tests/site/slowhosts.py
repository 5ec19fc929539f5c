"""A latency-bound site over many host names on 127.0.0.1 that counts requests in flight per host.

Every answer waits ``latency`` seconds (as a far server would), so a crawl is bound by waiting,
not by this machine's cores. Each host (``h0.test`` … , resolved to 127.0.0.1 by the tests'
made-up-names resolver) serves ``/`` linking ``pages`` small pages, and ``/robots.txt``
(with ``Crawl-delay`` when given). ``peak[host]`` is the most requests it had in flight at once.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        site = self.server.site
        host = (self.headers.get("Host") or "").split(":")[0]
        site.enter(host, self.path)
        try:
            time.sleep(site.latency)
            body, kind = site.page(host, self.path)
        finally:
            site.leave(host, self.path)
        self.send_response(200 if body is not None else 404)
        data = body or b"not found"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    site: SlowHosts


class SlowHosts:
    """Serve ``hosts`` host names with ``pages`` pages each, ``latency`` seconds per answer."""

    def __init__(
        self, *, hosts: int = 4, pages: int = 10, latency: float = 0.2, crawl_delay: float = 0
    ) -> None:
        self.names = [f"h{i}.test" for i in range(hosts)]
        self.pages = pages
        self.latency = latency
        self.crawl_delay = crawl_delay
        self.inflight: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.served: list[tuple[str, str, float]] = []
        self.started: list[tuple[str, str, float]] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self.port = 0

    def start(self) -> SlowHosts:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.site = self
        self._server = server
        self.port = server.server_address[1]
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def start_urls(self) -> list[str]:
        """The home page of every host."""
        return [f"http://{name}:{self.port}/" for name in self.names]

    def hosts_map(self) -> dict[str, list[str]]:
        """``NEWSWARC_TEST_HOSTS`` for the made-up-names resolver: every host on 127.0.0.1."""
        return {name: ["127.0.0.1"] for name in self.names}

    def enter(self, host: str, path: str) -> None:
        with self._lock:
            self.started.append((host, path, time.monotonic()))
            self.inflight[host] = self.inflight.get(host, 0) + 1
            self.peak[host] = max(self.peak.get(host, 0), self.inflight[host])

    def leave(self, host: str, path: str) -> None:
        with self._lock:
            self.inflight[host] -= 1
            self.served.append((host, path, time.monotonic()))

    def page(self, host: str, path: str) -> tuple[bytes | None, str]:
        if path == "/robots.txt":
            delay = f"Crawl-delay: {self.crawl_delay}\n" if self.crawl_delay else ""
            return f"User-agent: *\n{delay}Allow: /\n".encode(), "text/plain"
        if path == "/":
            links = "".join(
                f'<li><a href="/p/{k}.html">Page {k}</a></li>' for k in range(self.pages)
            )
            return (
                f"<html><head><title>{host}</title></head><body><ul>{links}</ul></body></html>".encode(),
                "text/html; charset=utf-8",
            )
        if path.startswith("/p/") and path.endswith(".html"):
            return (
                f"<html><head><title>{host}{path}</title></head>"
                f"<body><p>{host} page {path}.</p></body></html>".encode(),
                "text/html; charset=utf-8",
            )
        return None, "text/plain"

    def total_pages(self) -> int:
        """Pages a whole crawl fetches: robots.txt, home and pages of every host."""
        return len(self.names) * (self.pages + 2)
