"""Pages that are not what they claim."""

from __future__ import annotations

import pytest
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.test import get_crawler

from crawler.content import ContentCheckMiddleware, is_text_type, looks_binary


def test_binary_sniffing() -> None:
    assert looks_binary(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    assert looks_binary(b"%PDF-1.4\n...")
    assert looks_binary(bytes(range(256)) * 4)
    assert not looks_binary(b"<!DOCTYPE html><p>caf\xc3\xa9 \x00 one NUL</p>" * 20)
    assert not looks_binary("<p>é</p>".encode("utf-16"))  # BOM: text
    assert not looks_binary(b"")
    assert is_text_type("application/rss+xml") and is_text_type("application/json")
    assert not is_text_type("application/pdf")


def _check(body: bytes, content_type: str) -> ContentCheckMiddleware:
    mw = ContentCheckMiddleware.from_crawler(get_crawler())
    request = Request("http://127.0.0.1/page")
    response = Response(request.url, body=body, headers={"Content-Type": content_type})
    assert mw.process_response(request, response) is response
    return mw


def test_pages_are_named_and_passed_on() -> None:
    assert _check(b"%PDF-1.4 ...", "application/pdf").problems.count("not_html") == 1
    html = "<p>Café</p>"
    mw = _check(html.encode("cp1252"), "text/html; charset=utf-8")
    assert mw.problems.count("charset_mismatch") == 1
    assert _check(html.encode(), "text/html; charset=x-nope").problems.count("unknown_charset") == 1
    assert _check(b"<p>a\x00b</p>", "text/html").problems.count("malformed_html") == 1
    clean = _check(html.encode(), "text/html; charset=utf-8")
    assert clean.problems.report() == {}


def test_binary_as_html_is_dropped_and_feeds_are_not_judged() -> None:
    mw = ContentCheckMiddleware.from_crawler(get_crawler())
    body = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10
    response = Response("http://127.0.0.1/x", body=body, headers={"Content-Type": "text/html"})
    with pytest.raises(IgnoreRequest):
        mw.process_response(Request(response.url), response)
    assert mw.problems.count("binary_as_html") == 1

    def parse_feed(response: Response) -> None:
        pass

    feed = Request("http://127.0.0.1/feed", callback=parse_feed)
    assert mw.process_response(feed, response) is response  # not a page the spider reads
