"""Download limits that keep what came: size and time caps, robots.txt caps, decoding checks."""

from __future__ import annotations

import logging
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from time import monotonic
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.http import Request, Response

from crawler.problems import ProblemLog

try:
    import brotli
except ImportError:  # pragma: no cover - Scrapy takes either
    import brotlicffi as brotli

if sys.version_info >= (3, 14):  # pragma: no cover
    from compression import zstd
else:
    from backports import zstd

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http.headers import Headers

logger = logging.getLogger(__name__)

#: request.meta key: why the limits stopped this download ("length" or "time").
TRUNCATED = "newswarc_truncated"
#: response flag the capture middleware sets on a response it archived as truncated.
TRUNCATED_FLAG = "newswarc_truncated"
_MAXSIZE = "newswarc_maxsize"  # the request's own size cap while the handler's is off
_STARTED = "newswarc_download_started"
_RECEIVED = "newswarc_bytes_received"
_CHUNK = 64 * 1024


def truncation(request: Request, response: Response) -> str | None:
    """Return why a response holds less than its server meant to send, as ``WARC-Truncated``.

    ``length`` and ``time`` are the limits' own cuts; ``disconnect`` is a connection that ended
    before the announced length or the last chunk (Scrapy's ``dataloss`` flag). Scrapy's
    ``partial`` flag (no length announced, the body ends with the connection) is HTTP's way to
    end a body and is no truncation.
    """
    if "download_stopped" in response.flags:
        return str(request.meta.get(TRUNCATED) or "unspecified")
    if "dataloss" in response.flags:
        return "disconnect"
    return None


def is_robots_txt(request: Request) -> bool:
    """Tell whether a request is for a site's robots.txt."""
    return urlsplit(request.url).path == "/robots.txt"


# -- decoding check ------------------------------------------------------------------------


class _Truncated(Exception):
    pass


class _Corrupt(Exception):
    pass


def _gzip(data: bytes) -> Iterator[bytes]:
    rest = data
    while True:  # one gzip member after the other, as GzipFile reads them
        dec = zlib.decompressobj(wbits=31)
        buf = rest
        while not dec.eof:
            try:
                out = dec.decompress(buf, _CHUNK)
            except zlib.error as exc:
                raise _Corrupt(str(exc)) from None
            buf = dec.unconsumed_tail
            if out:
                yield out
            elif not buf:
                raise _Truncated
        rest = dec.unused_data
        if rest[:2] != b"\x1f\x8b":
            return  # trailing bytes after the last member: ignored, as gzip readers do


def _deflate(data: bytes) -> Iterator[bytes]:
    dec = zlib.decompressobj()
    try:
        out = dec.decompress(data, _CHUNK)
    except zlib.error:
        # Raw deflate without the zlib wrapper, as some servers send it.
        dec = zlib.decompressobj(wbits=-15)
        try:
            out = dec.decompress(data, _CHUNK)
        except zlib.error as exc:
            raise _Corrupt(str(exc)) from None
    while True:
        buf = dec.unconsumed_tail
        if out:
            yield out
        elif not buf:
            break
        if dec.eof:
            return
        try:
            out = dec.decompress(buf, _CHUNK)
        except zlib.error as exc:
            raise _Corrupt(str(exc)) from None
    if not dec.eof:
        raise _Truncated


def _brotli(data: bytes) -> Iterator[bytes]:
    dec = brotli.Decompressor()
    try:
        out = dec.process(data, output_buffer_limit=_CHUNK)
        while True:
            if out:
                yield out
            if dec.is_finished():
                return
            out = dec.process(b"", output_buffer_limit=_CHUNK)
            if not out:
                raise _Truncated
    except brotli.error as exc:
        raise _Corrupt(str(exc)) from None


def _zstd(data: bytes) -> Iterator[bytes]:
    rest = data
    while rest:  # one frame after the other
        dec = zstd.ZstdDecompressor()
        buf = rest
        while not dec.eof:
            if dec.needs_input and not buf:
                raise _Truncated
            try:
                out = dec.decompress(buf, max_length=_CHUNK)
            except zstd.ZstdError as exc:
                raise _Corrupt(str(exc)) from None
            buf = b""
            if out:
                yield out
        rest = dec.unused_data


_DECODERS: dict[bytes, Callable[[bytes], Iterator[bytes]]] = {
    b"gzip": _gzip,
    b"x-gzip": _gzip,
    b"deflate": _deflate,
    b"br": _brotli,
    b"zstd": _zstd,
}


@dataclass(frozen=True)
class DecodingProblem:
    """What is wrong with a content-encoded body: a reason of the problem list and details."""

    reason: str
    detail: str


def check_encoding(body: bytes, encodings: list[bytes], limit: int) -> DecodingProblem | None:
    """Decode a body as HttpCompressionMiddleware would, keeping only sizes, and judge it.

    Memory stays at one chunk for the last layer (the output is counted, not kept) and at
    ``limit`` for inner layers of a stacked encoding.

    Args:
        body: The body as received, still content-encoded.
        encodings: ``Content-Encoding`` values in the order the server applied them.
        limit: Decoded bytes above which the body is a decompression bomb; 0 for no limit.

    Returns:
        None for a body that decodes completely within the limit; otherwise the problem:
        ``decompression_bomb``, ``truncated_encoding`` or ``corrupt_encoding``.

    """
    applied = [e.strip().lower() for value in encodings for e in value.split(b",") if e.strip()]
    layers = []
    while applied and applied[-1] in _DECODERS:  # decode from the last applied, as Scrapy does
        layers.append(applied.pop())
    data = body
    for i, name in enumerate(layers):
        keep: list[bytes] | None = [] if i < len(layers) - 1 else None
        size = 0
        label = name.decode("latin-1")
        try:
            for chunk in _DECODERS[name](data):
                size += len(chunk)
                if limit and size > limit:
                    return DecodingProblem(
                        "decompression_bomb",
                        f"{len(body)} bytes of {label} decode to more than {limit} bytes",
                    )
                if keep is not None:
                    keep.append(chunk)
        except _Truncated:
            return DecodingProblem(
                "truncated_encoding",
                f"{label} stream of {len(data)} bytes ends early, after {size} decoded bytes",
            )
        except _Corrupt as exc:
            return DecodingProblem("corrupt_encoding", f"{label}: {exc}")
        if keep is not None:
            data = b"".join(keep)
    return None


# -- the middleware ----------------------------------------------------------------------


class DownloadLimitsMiddleware:
    """Stop downloads at their size and time limits and keep what came, then judge the body.

    Scrapy's handler drops a body that grows past ``DOWNLOAD_MAXSIZE`` and a download that
    outlasts ``DOWNLOAD_TIMEOUT``: nothing of it is archived. Here the ``headers_received`` and
    ``bytes_received`` signals stop such a download first (``StopDownload(fail=False)``), so
    the part that came is delivered with Scrapy's ``download_stopped`` flag and archived with
    ``WARC-Truncated: length`` or ``time``. ``DOWNLOAD_TIMEOUT`` stays the backstop for a
    server that goes silent (no byte arrives to check the clock).

    Its ``process_response`` runs after the capture (order below 950) and before decoding
    (above 590): a cut body, a connection lost mid-body (retried first), a body that decodes
    past ``DOWNLOAD_MAXSIZE`` and a content-encoded stream that ends early are logged, counted
    and dropped, so no page cut short is passed off as whole. A robots.txt is capped at
    ``NEWSWARC_ROBOTSTXT_MAX_BYTES`` and ``NEWSWARC_ROBOTSTXT_TIMEOUT``; its complete lines
    are used, as search engines do with an oversized one.
    """

    def __init__(
        self,
        crawler: Crawler,
        problems: ProblemLog,
        *,
        maxsize: int,
        time_limit: float,
        robots_max: int,
        robots_timeout: float,
    ) -> None:
        self.crawler = crawler
        self.problems = problems
        self.maxsize = maxsize
        self.time_limit = time_limit
        self.robots_max = robots_max
        self.robots_timeout = robots_timeout

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DownloadLimitsMiddleware:
        settings = crawler.settings
        mw = cls(
            crawler,
            ProblemLog.of(crawler),
            maxsize=settings.getint("DOWNLOAD_MAXSIZE"),
            time_limit=settings.getfloat("NEWSWARC_DOWNLOAD_TIME_LIMIT"),
            robots_max=settings.getint("NEWSWARC_ROBOTSTXT_MAX_BYTES"),
            robots_timeout=settings.getfloat("NEWSWARC_ROBOTSTXT_TIMEOUT"),
        )
        crawler.signals.connect(mw.headers_received, signal=signals.headers_received)
        crawler.signals.connect(mw.bytes_received, signal=signals.bytes_received)
        return mw

    def _cap(self, request: Request) -> int:
        cap = int(request.meta.get(_MAXSIZE, request.meta.get("download_maxsize", self.maxsize)))
        if is_robots_txt(request) and self.robots_max:
            return min(cap, self.robots_max) if cap else self.robots_max
        return cap

    def process_request(self, request: Request) -> None:
        if request.meta.get("dont_obey_robotstxt") and is_robots_txt(request):
            # Every request to the site waits for its robots.txt: a slow one must not hold it.
            current = request.meta.get("download_timeout")
            if self.robots_timeout and (not current or current > self.robots_timeout):
                request.meta["download_timeout"] = self.robots_timeout

    def headers_received(
        self, headers: Headers, body_length: Any, request: Request, spider: Any
    ) -> None:
        meta = request.meta
        meta.pop(TRUNCATED, None)
        cap = self._cap(request)
        meta.setdefault(_MAXSIZE, meta.get("download_maxsize", self.maxsize))
        # The handler would cancel a body past its cap and drop every byte; the cap is
        # enforced here instead, and put back before HttpCompressionMiddleware decodes.
        meta["download_maxsize"] = 0
        meta[_STARTED] = monotonic() - float(meta.get("download_latency") or 0.0)
        meta[_RECEIVED] = 0
        if cap and isinstance(body_length, int) and body_length > cap:
            meta[TRUNCATED] = "length"
            raise StopDownload(fail=False)

    def bytes_received(self, data: bytes, request: Request, spider: Any) -> None:
        meta = request.meta
        received = int(meta.get(_RECEIVED, 0)) + len(data)
        meta[_RECEIVED] = received
        cap = self._cap(request)
        if cap and received > cap:
            meta[TRUNCATED] = "length"
            raise StopDownload(fail=False)
        started = meta.get(_STARTED)
        if self.time_limit and started is not None and monotonic() - started > self.time_limit:
            meta[TRUNCATED] = "time"
            raise StopDownload(fail=False)

    def _restore(self, request: Request) -> None:
        if _MAXSIZE in request.meta:
            request.meta["download_maxsize"] = request.meta.pop(_MAXSIZE)
        request.meta.pop(_STARTED, None)
        request.meta.pop(_RECEIVED, None)

    def process_exception(self, request: Request, exception: Exception) -> None:
        self._restore(request)

    def _retry(self, request: Request, reason: str) -> Request | None:
        if request.meta.get("dont_retry"):
            return None
        assert self.crawler.spider is not None
        return get_retry_request(request, spider=self.crawler.spider, reason=reason)

    def process_response(self, request: Request, response: Response) -> Request | Response:
        self._restore(request)
        if "cached" in response.flags:
            return response
        url = response.url
        size = len(response.body)
        kind = truncation(request, response)
        if kind and is_robots_txt(request):
            return self._robots_part(request, response, kind)
        if kind == "disconnect":
            retry = self._retry(request, "dataloss")
            if retry is not None:
                return retry
            announced = response.headers.get(b"Content-Length")
            self.problems.record(
                "dataloss",
                url,
                f"connection closed after {size} bytes"
                + (f" of {announced.decode('latin-1')}" if announced else ""),
            )
            raise IgnoreRequest("newswarc: dataloss")
        if kind == "time":
            self.problems.record(
                "too_slow", url, f"cut after {self.time_limit:g} s, {size} bytes received"
            )
            raise IgnoreRequest("newswarc: too_slow")
        if kind:
            announced = response.headers.get(b"Content-Length")
            self.problems.record(
                "too_large",
                url,
                f"cut at {size} bytes, limit {self._cap(request)}"
                + (f", {announced.decode('latin-1')} announced" if announced else ""),
            )
            raise IgnoreRequest("newswarc: too_large")
        encodings = response.headers.getlist(b"Content-Encoding")
        if encodings and response.body and request.method != "HEAD":
            limit = int(request.meta.get("download_maxsize", self.maxsize))
            problem = check_encoding(response.body, encodings, limit)
            if problem is None:
                return response
            if problem.reason != "decompression_bomb":
                if not 200 <= response.status < 300:
                    return response  # an error page: no content is taken from it anyway
                retry = self._retry(request, problem.reason)
                if retry is not None:
                    return retry
            self.problems.record(problem.reason, url, problem.detail)
            raise IgnoreRequest(f"newswarc: {problem.reason}")
        return response

    def _robots_part(self, request: Request, response: Response, kind: str) -> Response:
        """Return the complete lines of a cut robots.txt: its rules come first, and count."""
        reason = "robots_txt_too_large" if kind == "length" else "robots_txt_cut"
        body = response.body
        # A content-encoded body is decoded later (a cut stream gives what it holds); a plain
        # one keeps its complete lines, so no rule is read half.
        encoded = bool(response.headers.get(b"Content-Encoding"))
        kept = body if encoded else body[: body.rfind(b"\n") + 1]
        self.problems.record(reason, response.url, f"{kind}: {len(kept)} bytes of it used")
        return response.replace(body=kept)
