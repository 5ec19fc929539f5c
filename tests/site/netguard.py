"""A local site whose pages link and redirect to private addresses, and a resolver of made-up names.

The site answers on 127.0.0.1 only and closes every connection, so each request of a crawl
resolves its host again (what a DNS-rebinding attack relies on). :class:`MadeUpNamesResolver`
answers the made-up names of a test from a setting and never asks a real DNS server.
"""

from __future__ import annotations

import html
import ipaddress
import json
import logging
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from scrapy.resolver import HostResolution
from twisted.internet.address import IPv4Address, IPv6Address

from crawler.netguard import AddressPolicy, GuardedResolver

logger = logging.getLogger(__name__)

ARTICLE_PARAGRAPHS = (
    "The harbour authority reopened the northern quay on Monday after three weeks of repairs "
    "to the storm-damaged sea wall, allowing the first container ships to berth since the "
    "November gales.",
    "Engineers replaced forty metres of the wall's concrete facing and reinforced its "
    "foundations with steel piles driven deeper into the seabed, the authority said in a "
    "statement, adding that the work had cost less than first feared.",
    "Shipping companies had diverted vessels to ports along the coast during the closure, "
    "and local hauliers said the detours had added hours to every delivery and pushed up the "
    "price of fuel and fresh produce in the town's markets.",
    "The harbour master said traffic would return to normal by the end of the week, once a "
    "backlog of twelve ships waiting offshore had been unloaded, and thanked dock workers who "
    "had worked extra shifts to clear the quay.",
)


def article_html(title: str) -> bytes:
    """A small news article page with enough text to be extracted."""
    paragraphs = "\n".join(f"<p>{html.escape(p)}</p>" for p in ARTICLE_PARAGRAPHS)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f"<title>{html.escape(title)} | Harbour Gazette</title>\n"
        '<meta property="og:type" content="article">\n'
        '<meta name="author" content="Mara Quint">\n'
        '<meta property="article:published_time" content="2026-12-01T08:00:00Z">\n'
        f"</head><body><article><h1>{html.escape(title)}</h1>\n{paragraphs}\n"
        "</article></body></html>\n"
    ).encode()


def listing_html(links: Sequence[str]) -> bytes:
    """A listing page linking to every given URL."""
    items = "\n".join(f'<li><a href="{html.escape(u)}">{html.escape(u)}</a></li>' for u in links)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Harbour Gazette</title></head>\n"
        f"<body><h1>Latest news</h1><ul>\n{items}\n</ul></body></html>\n"
    ).encode()


class NetguardSite:
    """Serve the site on 127.0.0.1; ``pages`` maps a path to ``(status, headers, body)``.

    Every request is recorded as ``(Host header, path)`` in ``requests``.
    """

    def __init__(self) -> None:
        self.pages: dict[str, tuple[int, list[tuple[str, str]], bytes]] = {}
        self.requests: list[tuple[str, str]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                site.requests.append((self.headers.get("Host", ""), self.path))
                status, headers, body = site.pages.get(
                    self.path, (404, [("Content-Type", "text/plain")], b"not found\n")
                )
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                # A new connection, and so a new lookup of the host, for every request.
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def html(self, path: str, body: bytes) -> None:
        """Serve an HTML page."""
        self.pages[path] = (200, [("Content-Type", "text/html; charset=utf-8")], body)

    def redirect(self, path: str, location: str) -> None:
        """Answer with a 302 redirect."""
        self.pages[path] = (302, [("Location", location), ("Content-Type", "text/plain")], b"")

    def start(self) -> NetguardSite:
        self.pages["/robots.txt"] = (200, [("Content-Type", "text/plain")], b"User-agent: *\n")
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> NetguardSite:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class MadeUpNamesResolver(GuardedResolver):
    """The guarded resolver, answering made-up names from ``NEWSWARC_TEST_HOSTS``.

    The setting maps a name to its successive answers (JSON on the command line): an address
    or a list of addresses per lookup, the last one repeated, e.g.
    ``{"rebind.test": ["127.0.0.1", "127.0.0.2"]}``. IP literals resolve as usual (no DNS
    traffic); any other name resolves to nothing, so no test asks a real DNS server.
    """

    hosts: dict[str, list[Any]]
    lookups: dict[str, int]

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> MadeUpNamesResolver:
        resolver = super().from_crawler(crawler, reactor)
        hosts = crawler.settings.get("NEWSWARC_TEST_HOSTS") or {}
        resolver.hosts = json.loads(hosts) if isinstance(hosts, str) else dict(hosts)
        resolver.lookups = {}
        return resolver

    def lookup(
        self,
        receiver: Any,
        name: str,
        port: int,
        address_types: Sequence[type[Any]] | None,
        semantics: str,
    ) -> None:
        try:
            ipaddress.ip_address(name.partition("%")[0])
        except ValueError:
            pass
        else:
            super().lookup(receiver, name, port, address_types, semantics)
            return
        answers = self.hosts.get(name.lower(), [])
        n = self.lookups.get(name, 0)
        self.lookups[name] = n + 1
        answer = answers[min(n, len(answers) - 1)] if answers else []
        addresses = [answer] if isinstance(answer, str) else list(answer)
        logger.info("Test resolver: lookup %d of %s: %s", n + 1, name, ", ".join(addresses))
        receiver.resolutionBegan(HostResolution(name))
        for address in addresses:
            kind = IPv6Address if ":" in address else IPv4Address
            receiver.addressResolved(kind("TCP", address, port))
        receiver.resolutionComplete()


class PermissiveNamesResolver(MadeUpNamesResolver):
    """:class:`MadeUpNamesResolver` that lets every address through, as Scrapy's own would."""

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> MadeUpNamesResolver:
        resolver = super().from_crawler(crawler, reactor)
        resolver.policy = AddressPolicy(["0.0.0.0/0", "::/0"])
        return resolver
