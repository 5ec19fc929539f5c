"""Download limits: the decoding check, truncation reasons, and the size and time stops."""

from __future__ import annotations

import gzip
import time
import zlib

import brotli
import pytest
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from crawler.limits import TRUNCATED, DownloadLimitsMiddleware, check_encoding, truncation

PAGE = b"<html><body>" + b"<p>The council met on Tuesday.</p>" * 400 + b"</body></html>"


def test_whole_streams_pass_in_every_encoding() -> None:
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    for body, enc in (
        (gzip.compress(PAGE), [b"gzip"]),
        (gzip.compress(PAGE) + gzip.compress(PAGE), [b"x-gzip"]),  # two members
        (zlib.compress(PAGE), [b"deflate"]),
        (raw.compress(PAGE) + raw.flush(), [b"deflate"]),
        (brotli.compress(PAGE), [b"br"]),
        (gzip.compress(brotli.compress(PAGE)), [b"br", b"gzip"]),  # stacked
        (gzip.compress(PAGE), [b"identity, gzip"]),
        (PAGE, [b"unknown-coding"]),  # left alone, as Scrapy leaves it
    ):
        assert check_encoding(body, enc, 10 * len(PAGE)) is None, enc


def test_cut_and_corrupt_streams_are_named() -> None:
    gz = gzip.compress(PAGE)
    cut = check_encoding(gz[: len(gz) // 2], [b"gzip"], 0)
    assert cut is not None and cut.reason == "truncated_encoding"
    corrupt = check_encoding(gz[:-8] + b"\0\0\0\0\0\0\0\0", [b"gzip"], 0)  # bad CRC
    assert corrupt is not None and corrupt.reason == "corrupt_encoding"
    br = brotli.compress(PAGE)
    assert check_encoding(br[: len(br) // 2], [b"br"], 0).reason == "truncated_encoding"  # type: ignore[union-attr]
    assert check_encoding(b"not brotli at all", [b"br"], 0).reason == "corrupt_encoding"  # type: ignore[union-attr]


def test_a_bomb_is_caught_at_the_limit_without_holding_it() -> None:
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    bomb = b"".join(comp.compress(zeros) for _ in range(256)) + comp.flush()  # 256 MiB
    problem = check_encoding(bomb, [b"gzip"], 1 << 20)
    assert problem is not None and problem.reason == "decompression_bomb"
    assert check_encoding(bomb, [b"gzip"], 0) is None  # no limit: decodes whole, keeps nothing


def test_truncation_reasons_follow_the_flags() -> None:
    request = Request("http://127.0.0.1/a")
    assert truncation(request, HtmlResponse(request.url, flags=["dataloss"])) == "disconnect"
    assert truncation(request, HtmlResponse(request.url, flags=["partial"])) is None
    request.meta[TRUNCATED] = "time"
    assert truncation(request, HtmlResponse(request.url, flags=["download_stopped"])) == "time"


def _middleware(**settings: object) -> DownloadLimitsMiddleware:
    crawler = get_crawler(settings_dict={"DOWNLOAD_MAXSIZE": 1000, **settings})
    return DownloadLimitsMiddleware.from_crawler(crawler)


def test_size_limit_stops_the_download_and_keeps_the_cap() -> None:
    mw = _middleware(NEWSWARC_DOWNLOAD_TIME_LIMIT=0)
    request = Request("http://127.0.0.1/big")
    mw.headers_received({}, 900, request, None)
    # The handler's own cap is off while the body comes (it would drop every byte)...
    assert request.meta["download_maxsize"] == 0
    mw.bytes_received(b"x" * 600, request, None)
    with pytest.raises(StopDownload) as stop:
        mw.bytes_received(b"x" * 600, request, None)
    assert stop.value.fail is False and request.meta[TRUNCATED] == "length"
    response = HtmlResponse(request.url, body=b"x" * 1200, flags=["download_stopped"])
    with pytest.raises(IgnoreRequest):
        mw.process_response(request, response)
    # ...and back before HttpCompressionMiddleware decodes with it.
    assert request.meta["download_maxsize"] == 1000
    assert mw.problems.count("too_large") == 1


def test_announced_length_over_the_cap_stops_at_the_headers() -> None:
    mw = _middleware()
    request = Request("http://127.0.0.1/big")
    with pytest.raises(StopDownload):
        mw.headers_received({}, 5000, request, None)
    assert request.meta[TRUNCATED] == "length"


def test_time_limit_stops_a_drip() -> None:
    mw = _middleware(NEWSWARC_DOWNLOAD_TIME_LIMIT=0.2)
    request = Request("http://127.0.0.1/drip", meta={"download_latency": 0.0})
    mw.headers_received({}, "twisted.web.iweb.UNKNOWN_LENGTH", request, None)
    mw.bytes_received(b"z", request, None)
    time.sleep(0.3)
    with pytest.raises(StopDownload):
        mw.bytes_received(b"z", request, None)
    assert request.meta[TRUNCATED] == "time"


def test_robots_txt_gets_its_own_caps_and_keeps_whole_lines() -> None:
    mw = _middleware(
        DOWNLOAD_MAXSIZE=10**6, NEWSWARC_ROBOTSTXT_MAX_BYTES=50, NEWSWARC_ROBOTSTXT_TIMEOUT=3
    )
    request = Request(
        "http://127.0.0.1/robots.txt", meta={"dont_obey_robotstxt": True, "download_timeout": 30}
    )
    mw.process_request(request)
    assert request.meta["download_timeout"] == 3
    with pytest.raises(StopDownload):
        mw.headers_received({}, 400, request, None)
    body = b"User-agent: *\nDisallow: /a\nDisallow: /filler-that-is-cut"
    response = HtmlResponse(request.url, body=body, flags=["download_stopped"])
    kept = mw.process_response(request, response)
    assert kept.body == b"User-agent: *\nDisallow: /a\n"  # type: ignore[union-attr]
    assert mw.problems.count("robots_txt_too_large") == 1


def test_a_lost_connection_is_retried_then_given_up_with_a_reason() -> None:
    mw = _middleware(RETRY_TIMES=1)
    crawler = mw.crawler
    crawler.spider = crawler._create_spider("test")  # type: ignore[attr-defined]
    request = Request("http://127.0.0.1/cut")
    response = HtmlResponse(request.url, body=b"<p>half", flags=["dataloss"])
    retry = mw.process_response(request, response)
    assert isinstance(retry, Request) and retry.meta["retry_times"] == 1
    with pytest.raises(IgnoreRequest):
        mw.process_response(retry, HtmlResponse(request.url, body=b"<p>half", flags=["dataloss"]))
    assert mw.problems.count("dataloss") == 1
