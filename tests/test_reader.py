from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pipelines.reader import ArchiveReader, CaptureNotFound, parse_when, warc_key
from tests.crawlrun import run_crawl


def test_reader_and_storage_import_no_scrapy() -> None:
    code = (
        "import sys, pipelines.reader, pipelines.storage, pipelines.warcfile, pipelines.spool;"
        "bad = [m for m in sys.modules if m == 'scrapy' or m.startswith(('scrapy.', 'twisted'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_articles_filters(local_crawl: dict[str, Any]) -> None:
    reader = ArchiveReader.open(str(local_crawl["archive"]))
    everything = list(reader.articles())
    assert len(everything) == 8
    today = datetime.now(UTC).date()
    assert len(list(reader.articles(since=today.isoformat(), until=today.isoformat()))) == 8
    assert list(reader.articles(until=(today - timedelta(days=2)).isoformat())) == []
    assert list(reader.articles(since=(today + timedelta(days=1)).isoformat())) == []
    assert len(list(reader.articles(site="127.0.0.1"))) == 8
    assert list(reader.articles(site="example.com")) == []
    one = everything[3]
    assert [r["url"] for r in reader.articles(url=one["url"])] == [one["url"]]
    moved = next(r for r in everything if r["url"].endswith("moved-story.html"))
    assert [r["url"] for r in reader.articles(url=moved["requested_url"])] == [moved["url"]]


def test_capture_reads_the_record_by_pointer(local_crawl: dict[str, Any]) -> None:
    reader = ArchiveReader.open(local_crawl["archive"].as_uri())
    site = local_crawl["site"]
    gz = site.base_url + "/news/2026/11/27/port-strike-talks-collapse.html"
    capture = reader.capture(gz)
    assert capture.status == 200 and capture.url == gz
    assert capture.raw == site.sent(urlsplit(gz).path)[-1]
    assert capture.raw[:2] == b"\x1f\x8b" and capture.body == site.body(urlsplit(gz).path)
    with pytest.raises(CaptureNotFound):
        reader.capture(site.base_url + "/never-fetched.html")


def test_capture_at_picks_the_closest(news_site: Any, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    url = news_site.base_url + "/ar/2026/11/28/123456.html"
    stamps = []
    for run in range(2):
        # A fresh crawl state each time: two full captures, not a capture and its revisit.
        settings = {"NEWSWARC_ARCHIVE_URI": archive, "NEWSWARC_STATE_PATH": tmp_path / f"s{run}"}
        result = run_crawl(tmp_path, ["-a", f"url={url}"], settings)
        assert result.returncode == 0, result.log[-2000:]
    reader = ArchiveReader.open(str(archive))
    records = sorted(reader.articles(url=url), key=lambda r: r["fetched_at"])
    assert len(records) == 2
    stamps = [parse_when(r["fetched_at"]) for r in records]
    assert stamps[0] is not None and stamps[1] is not None
    first = reader.capture(url, at=stamps[0] - timedelta(hours=1))
    assert first.record_id == records[0]["warc"]["record_id"]
    latest = reader.capture(url)
    assert latest.record_id == records[1]["warc"]["record_id"]
    near_second = reader.capture(url, at=stamps[1] + timedelta(seconds=1))
    assert near_second.record_id == records[1]["warc"]["record_id"]


def test_read_pointer_refuses_a_wrong_offset(local_crawl: dict[str, Any]) -> None:
    reader = ArchiveReader.open(str(local_crawl["archive"]))
    record = next(iter(reader.articles()))
    bad = {**record["warc"], "offset": 0}  # the warcinfo record, not this response
    with pytest.raises(ValueError, match=r"not a response record|holds"):
        reader.read_pointer(bad)


def test_time_parsing_and_keys() -> None:
    assert parse_when("2026-11-28") == datetime(2026, 11, 28, tzinfo=UTC)
    assert parse_when("2026-11-28", end=True) == datetime(
        2026, 11, 28, 23, 59, 59, 999999, tzinfo=UTC
    )
    assert parse_when("20261128120000") == datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert parse_when("2026") == datetime(2026, 1, 1, tzinfo=UTC)
    assert warc_key("newswarc-20261128120000-00001-host.1.warc.gz") == (
        "warc/2026/11/28/newswarc-20261128120000-00001-host.1.warc.gz"
    )


def test_timestamp_prefixes_cover_whole_periods() -> None:
    assert parse_when("202602", end=True) == datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC)
    assert parse_when("202611", end=True) == datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)
    assert parse_when("2026", end=True) == datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert parse_when("20261128") == datetime(2026, 11, 28, tzinfo=UTC)


def test_until_in_another_zone_keeps_the_utc_day(local_crawl: dict[str, Any]) -> None:
    reader = ArchiveReader.open(str(local_crawl["archive"]))
    fetched = max(parse_when(r["fetched_at"]) for r in reader.articles())
    assert fetched is not None
    # The same instant written in a zone where it is still the previous calendar day.
    since_midnight = fetched.hour * 3600 + fetched.minute * 60 + fetched.second + 60
    zone = timezone(-timedelta(seconds=min(since_midnight, 23 * 3600 + 59 * 60)))
    later = (fetched + timedelta(seconds=1)).astimezone(zone)
    assert later.date() < fetched.date() or since_midnight > 23 * 3600
    assert len(list(reader.articles(until=later))) == 8
