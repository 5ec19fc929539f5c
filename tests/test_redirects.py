"""Redirect loops and over-long chains."""

from __future__ import annotations

import pytest
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.test import get_crawler

from crawler.redirects import RedirectCheckMiddleware


def _mw() -> RedirectCheckMiddleware:
    return RedirectCheckMiddleware.from_crawler(
        get_crawler(settings_dict={"REDIRECT_MAX_TIMES": 3})
    )


def _redirect(url: str, location: str) -> Response:
    return Response(url, status=302, headers={"Location": location})


def test_a_loop_is_named_by_the_first_url() -> None:
    mw = _mw()
    request = Request("http://127.0.0.1/b", meta={"redirect_urls": ["http://127.0.0.1/a"]})
    with pytest.raises(IgnoreRequest):
        mw.process_response(request, _redirect(request.url, "/a#top"))
    (entry,) = mw.problems.report()["redirect_loop"]["urls"]
    assert entry["url"] == "http://127.0.0.1/a"
    assert entry["detail"].endswith("/b -> http://127.0.0.1/a#top")


def test_a_chain_over_the_limit_is_named_and_a_short_one_passes() -> None:
    mw = _mw()
    fine = Request("http://127.0.0.1/2", meta={"redirect_times": 2})
    response = _redirect(fine.url, "/3")
    assert mw.process_response(fine, response) is response
    long = Request("http://127.0.0.1/3", meta={"redirect_times": 3, "redirect_urls": ["x"] * 3})
    with pytest.raises(IgnoreRequest):
        mw.process_response(long, _redirect(long.url, "/4"))
    assert mw.problems.count("too_many_redirects") == 1
    # Requests that handle redirects themselves are left alone.
    own = Request("http://127.0.0.1/3", meta={"redirect_times": 3, "dont_redirect": True})
    assert mw.process_response(own, _redirect(own.url, "/3")).status == 302
