"""Retry-After parsing and the names of downloads given up on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scrapy.exceptions import DownloadFailedError, DownloadTimeoutError, IgnoreRequest
from scrapy.http import Request
from scrapy.utils.test import get_crawler

from crawler.retry import GiveUpMiddleware, retry_after_seconds


def test_retry_after_seconds_and_dates() -> None:
    now = datetime(2026, 12, 1, 8, 0, 0, tzinfo=UTC)
    assert retry_after_seconds(b"120") == 120.0
    assert retry_after_seconds(b" 0 ") == 0.0
    assert retry_after_seconds(b"Tue, 01 Dec 2026 08:00:30 GMT", now=now) == 30.0
    # Read against the server's Date, not the local clock: skew does not matter.
    assert (
        retry_after_seconds(b"Tue, 01 Dec 2026 09:00:30 GMT", b"Tue, 01 Dec 2026 09:00:00 GMT", now)
        == 30.0
    )
    assert retry_after_seconds(b"Tue, 01 Dec 2026 07:00:00 GMT", now=now) == 0.0  # past
    assert retry_after_seconds(b"soon") is None
    assert retry_after_seconds(b"-5") is None
    assert retry_after_seconds(None) is None


def test_give_up_names_known_failures_and_leaves_others() -> None:
    crawler = get_crawler()
    mw = GiveUpMiddleware.from_crawler(crawler)
    with pytest.raises(IgnoreRequest):
        mw.process_exception(Request("http://127.0.0.1/slow"), DownloadTimeoutError("took long"))
    with pytest.raises(IgnoreRequest):
        mw.process_exception(
            Request("http://127.0.0.1/robots.txt", meta={"dont_obey_robotstxt": True}),
            DownloadFailedError("bad status line"),
        )
    assert mw.problems.count("timeout") == 1
    assert mw.problems.count("robots_txt_unavailable") == 1
    # A bug is no network failure: it keeps its traceback.
    assert mw.process_exception(Request("http://127.0.0.1/x"), KeyError("bug")) is None
    assert mw.process_exception(Request("http://127.0.0.1/x"), IgnoreRequest()) is None
