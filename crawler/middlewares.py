"""Downloader middleware that writes every request and response to WARC, as it crossed the wire."""

from __future__ import annotations

import base64
import hashlib
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response

from crawler.extensions import ArchiveExtension
from crawler.limits import TRUNCATED_FLAG, truncation
from pipelines.warcfile import Exchange, RevisitOf

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

#: request.meta (and response.meta) key with the capture time of the response.
FETCH_TIME = "newswarc_fetch_time"
#: request.meta (and so response.meta) key with the response record's WARC pointer.
WARC_POINTER = "newswarc_warc"


#: request.meta key set when the response has the payload of the URL's last capture.
UNCHANGED = "newswarc_unchanged"


def payload_digest(body: bytes) -> str:
    """Return a body's WARC payload digest (``sha1:`` and Base32, as warcio writes it)."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body, usedforsecurity=False).digest()).decode()


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _latin1(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def request_target(url: str) -> str:
    """Return the request-target of the request line: path and query string."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def exchange_from(request: Request, response: Response, date: datetime) -> Exchange:
    """Rebuild the HTTP exchange Scrapy saw, keeping every header value (``getlist``)."""
    request_headers = [
        (_latin1(name), _latin1(value))
        for name, values in request.headers.items()
        for value in values
    ]
    if not any(name.lower() == "host" for name, _ in request_headers):
        # Twisted adds Host on the wire after the other headers; record it the same way: no
        # credentials, and the port only when it is not the scheme's default.
        parts = urlsplit(request.url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        default = {"http": 80, "https": 443}.get(parts.scheme)
        if parts.port and parts.port != default:
            host = f"{host}:{parts.port}"
        request_headers.append(("Host", host))
    response_headers = [
        (_latin1(name), _latin1(value))
        for name, values in response.headers.items()
        for value in values
    ]
    return Exchange(
        url=response.url,
        method=request.method,
        target=request_target(request.url),
        request_headers=request_headers,
        request_body=request.body or b"",
        status=response.status,
        response_headers=response_headers,
        body=response.body,
        date=date,
        ip=str(response.ip_address) if response.ip_address is not None else None,
    )


class WarcCaptureMiddleware:
    """Capture each download attempt: redirects, errors and retries are captures too.

    Put it above ``HttpCacheMiddleware`` (900) so it sees bodies still content-encoded and
    responses before redirects are followed or errors filtered. Responses served from Scrapy's
    HTTP cache are not new captures and are skipped.
    """

    def __init__(self, archive: ArchiveExtension, stats: StatsCollector) -> None:
        self.archive = archive
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        archive = crawler.get_extension(ArchiveExtension)
        if archive is None:
            raise NotConfigured("ArchiveExtension is not enabled")
        assert crawler.stats is not None
        return cls(archive, crawler.stats)

    def process_response(self, request: Request, response: Response) -> Response:
        if "cached" in response.flags:
            return response
        # The capture time is when the request went out. process_request runs before Scrapy's
        # per-site queue (delays, AutoThrottle), so it would be early by up to the delay; the
        # handler's latency (send to response headers) gives the sending time instead.
        date = datetime.now(UTC) - timedelta(seconds=request.meta.get("download_latency") or 0.0)
        request.meta[FETCH_TIME] = date
        exchange = exchange_from(request, response, date)
        # A body cut short is archived as far as it came, marked as such (WARC-Truncated); it
        # is no payload to compare with, nor one to remember as the URL's last capture.
        exchange.truncated = truncation(request, response)
        if exchange.truncated:
            response.flags.append(TRUNCATED_FLAG)
            self.stats.inc_value(f"newswarc/warc/truncated/{exchange.truncated}")
        digest = payload_digest(response.body)
        state = self.archive.state
        seen = state.seen(response.url)
        if (
            not exchange.truncated
            and response.status == 200
            and seen is not None
            and seen.status == 200
            and seen.payload_digest == digest
            and seen.record_id
            and seen.warc_date
        ):
            # Fetched before with the very same payload: a revisit record, not a second copy.
            exchange.revisit = RevisitOf(seen.record_id, response.url, seen.warc_date, digest)
            request.meta[UNCHANGED] = True
            self.stats.inc_value("newswarc/warc/revisits")
        pointer = self.archive.write_capture(exchange)
        request.meta[WARC_POINTER] = pointer
        self.stats.inc_value("newswarc/warc/captures")
        self.stats.inc_value(f"newswarc/warc/status/{response.status}")
        if exchange.truncated:
            return response
        state.record_fetch(
            response.url,
            status=response.status,
            etag=_header(response, b"ETag"),
            last_modified=_header(response, b"Last-Modified"),
            payload_digest=digest,
            # A revisit points on to the record that holds the payload.
            record_id=seen.record_id if exchange.revisit and seen else pointer.record_id,
            warc_uri=seen.warc_uri if exchange.revisit and seen else pointer.uri,
            warc_date=seen.warc_date if exchange.revisit and seen else pointer.date,
        )
        return response
