from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from scrapy.http import HtmlResponse, Request

from crawler.middlewares import exchange_from, request_target
from tests.archivecheck import requests as request_records
from tests.archivecheck import responses
from tests.crawlrun import run_crawl


def test_request_target_keeps_the_query() -> None:
    assert request_target("http://a.example/x/y?b=1&c=%20") == "/x/y?b=1&c=%20"
    assert request_target("http://a.example") == "/"


def test_exchange_keeps_every_header_value_and_adds_host() -> None:
    request = Request("https://user:pw@news.example:443/a?b=1", headers={"Accept": "text/html"})
    response = HtmlResponse(
        request.url,
        status=200,
        headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Content-Type", "text/html")],
        body=b"<html></html>",
        request=request,
    )
    ex = exchange_from(request, response, datetime(2026, 11, 29))
    assert [v for k, v in ex.response_headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert ex.request_headers[-1] == ("Host", "news.example")  # no credentials, no default port
    assert ex.target == "/a?b=1"
    other = exchange_from(Request("http://127.0.0.1:8080/"), response, datetime(2026, 11, 29))
    assert other.request_headers[-1] == ("Host", "127.0.0.1:8080")


def test_capture_time_is_when_the_request_was_sent(news_site: Any, tmp_path: Path) -> None:
    """Scrapy delays requests after process_request; the WARC-Date must not be the queue time."""
    paths = ["/ar/2026/11/28/123456.html", "/ar/2026/11/27/123401.html", "/about.html"]
    result = run_crawl(
        tmp_path,
        ["-a", "urls=" + ",".join(news_site.base_url + p for p in paths)],
        {
            "NEWSWARC_ARCHIVE_URI": tmp_path / "a",
            "NEWSWARC_WARC_VERSION": "1.1",
            "DOWNLOAD_DELAY": 1.5,
            "RANDOMIZE_DOWNLOAD_DELAY": False,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        },
    )
    assert result.returncode == 0, result.log[-2000:]
    warc = next((tmp_path / "a").glob("warc/*/*/*/*.warc.gz"))
    received = {}
    for r in news_site.requests:
        received[r["path"]] = r["time"]  # the latest request of each path is this crawl's
    dates = {}
    for rec in responses(warc):
        path = rec["url"].split(news_site.base_url, 1)[1]
        if path in paths:
            dates[path] = rec
    assert sorted(dates) == sorted(paths)
    stamps = []
    with warc.open("rb") as fh:
        from warcio.archiveiterator import ArchiveIterator

        for rec in ArchiveIterator(fh):
            if rec.rec_type == "response":
                path = rec.rec_headers.get_header("WARC-Target-URI").split(news_site.base_url, 1)[1]
                if path in paths:
                    when = datetime.fromisoformat(
                        rec.rec_headers.get_header("WARC-Date").replace("Z", "+00:00")
                    )
                    stamps.append(when.timestamp())
                    assert abs(when.timestamp() - received[path]) < 0.5, path
    # Spaced by the download delay, not all stamped at the start.
    assert max(stamps) - min(stamps) > 2.5
    assert len(request_records(warc)) >= 3
