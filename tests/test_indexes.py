from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from pipelines.cdxj import IndexLine, make_line
from pipelines.indexes import CountingReads, build_indexes, day_index_key, lookup, search_sorted
from pipelines.reader import ArchiveReader
from pipelines.storage import FileStorage
from tests.crawlrun import run_crawl
from tests.s3server import SeaweedS3


@pytest.fixture
def archive(local_crawl: dict[str, Any], tmp_path: Path) -> Path:
    """A private copy of the shared crawl's archive, safe to change."""
    copy = tmp_path / "archive"
    shutil.copytree(local_crawl["archive"], copy, ignore=shutil.ignore_patterns(".spool"))
    return copy


def test_build_merges_days_and_rebuilds_missing_indexes(archive: Path) -> None:
    storage = FileStorage(archive)
    warc_index = next(archive.glob("warc/*/*/*/*.cdxj"))
    original = warc_index.read_text()
    warc_index.unlink()
    report = build_indexes(storage)
    assert report.built == [warc_index.relative_to(archive).as_posix()]
    assert warc_index.read_text() == original  # rebuilt from the WARC, same lines
    day = warc_index.parent.relative_to(archive / "warc").as_posix()
    merged = archive / day_index_key(day)
    lines = [IndexLine.parse(t) for t in merged.read_text().splitlines()]
    assert lines == sorted(lines) and len(lines) == len(original.splitlines())
    # Nothing changed: nothing to do the second time.
    again = build_indexes(storage)
    assert again.built == [] and again.merged == []


def test_lookup_finds_every_capture_through_the_indexes(archive: Path, news_site: Any) -> None:
    storage = FileStorage(archive)
    build_indexes(storage)
    url = news_site.base_url + "/old/story-123"
    found = lookup(storage, url)
    assert [line.data["status"] for line in found] == ["301"]
    reader = ArchiveReader(storage)
    capture = reader.capture(url)
    assert capture.status == 301 and capture.url == url
    missing = reader.capture(news_site.base_url + "/missing-page.html")  # not an article
    assert missing.status == 404
    site = lookup(storage, news_site.base_url + "/", prefix=True)
    section = lookup(storage, news_site.base_url + "/ar/", prefix=True)
    assert section and all("/ar/" in x.data["url"] for x in section)
    assert len(section) == len([x for x in site if "/ar/" in x.data["url"]])
    assert {x.data["url"] for x in site} >= {url, news_site.base_url + "/robots.txt"}


def test_search_reads_a_bounded_number_of_bytes(tmp_path: Path) -> None:
    rng = random.Random(7)
    urls = sorted(
        {f"https://news{rng.randrange(50)}.example/a/{rng.randrange(10**6)}" for _ in range(60_000)}
    )
    lines = sorted(
        make_line(
            url=u,
            warc_date="2026-11-29T12:00:00Z",
            filename="f.warc.gz",
            offset=i * 1000,
            length=999,
            status=200,
            mime="text/html",
            digest="sha1:AAAA",
        )
        for i, u in enumerate(urls)
    )
    index = tmp_path / "warc/2026/11/29/f.cdxj"
    index.parent.mkdir(parents=True)
    index.write_text("".join(line.to_text() + "\n" for line in lines))
    storage = FileStorage(tmp_path)
    size = index.stat().st_size
    for url in [*rng.sample(urls, 25), "https://absent.example/x"]:
        reads = CountingReads()
        got = list(search_sorted(storage, "warc/2026/11/29/f.cdxj", make_key(url), reads=reads))
        assert [g.data["url"] for g in got] == ([url] if "absent" not in url else [])
        assert reads.bytes < 200_000 < size  # a few blocks, not the whole index


def make_key(url: str) -> str:
    from pipelines.cdxj import surt_key

    return surt_key(url)


@pytest.mark.s3
def test_lookups_on_s3_use_ranged_reads(news_site: Any, s3: SeaweedS3, tmp_path: Path) -> None:
    bucket = s3.new_bucket()
    url = news_site.base_url + "/ar/2026/11/28/123456.html"
    result = run_crawl(
        tmp_path,
        ["-a", f"url={url}"],
        {"NEWSWARC_ARCHIVE_URI": f"s3://{bucket}/n", "NEWSWARC_SPOOL_DIR": tmp_path / "spool"},
        env=s3.env(),
    )
    assert result.returncode == 0, result.log[-2000:]
    storage = s3.storage(f"s3://{bucket}/n")
    assert build_indexes(storage).merged
    reader = ArchiveReader(storage)
    capture = reader.capture(url)
    assert capture.status == 200 and capture.body == news_site.body("/ar/2026/11/28/123456.html")
    assert 0 < reader.reads.bytes < 100_000
