"""The archive around a crawl: S3 delivery, rollover, recovery after a kill, outages, bad config."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pipelines.reader import ArchiveReader
from pipelines.storage import S3Options
from tests.archivecheck import check_warc_file, resolve_pointer, schema_errors, spool_leftovers
from tests.crawlrun import read_jsonl_gz, run_crawl, start_crawl
from tests.s3server import SeaweedS3
from tests.site import NewsSite, load_expected

EXPECTED = load_expected()
ARTICLES = {p for p, e in EXPECTED.items() if not p.startswith("_") and e["kind"] == "article"}


@pytest.fixture
def slow_site() -> Iterator[NewsSite]:
    site = NewsSite(delay=0.4).start()
    yield site
    site.stop()


def download_bucket(s3: SeaweedS3, bucket: str, dest: Path) -> dict[str, dict[str, Any]]:
    """Copy every object to ``dest``; return each key's head (content type, size)."""
    client = s3.client()
    heads = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            target = dest / key
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, key, str(target))
            heads[key] = client.head_object(Bucket=bucket, Key=key)
    return heads


@pytest.mark.s3
def test_crawl_to_s3_end_to_end(news_site: Any, s3: SeaweedS3, tmp_path: Path) -> None:
    bucket = s3.new_bucket()
    result = run_crawl(
        tmp_path,
        ["-a", f"start_urls={news_site.base_url}/"],
        {"NEWSWARC_ARCHIVE_URI": f"s3://{bucket}/news", "NEWSWARC_SPOOL_DIR": tmp_path / "spool"},
        env=s3.env(),
    )
    assert result.returncode == 0, result.log[-3000:]
    heads = download_bucket(s3, bucket, tmp_path / "copy")
    keys = sorted(heads)
    warcs = [k for k in keys if k.endswith(".warc.gz")]
    batches = [k for k in keys if k.endswith(".jsonl.gz")]
    assert warcs and batches and any(k.startswith("news/crawls/") for k in keys)
    assert all(k.startswith(("news/warc/", "news/articles/", "news/crawls/")) for k in keys)
    for key in warcs:
        assert heads[key]["ContentType"] == "application/warc"
        check_warc_file(tmp_path / "copy" / key)
    records = [r for k in batches for r in read_jsonl_gz(tmp_path / "copy" / k)]
    assert sorted(urlsplit(r["url"]).path for r in records) == sorted(ARTICLES)
    reader = ArchiveReader(s3.storage(f"s3://{bucket}/news"))
    for record in records:
        assert schema_errors(record) == []
        ptr = record["warc"]
        assert (
            ptr["uri"]
            == f"s3://{bucket}/news/" + next(k for k in warcs if k.endswith(ptr["filename"]))[5:]
        )
        # A ranged GET of exactly that record, and the same bytes in the downloaded file.
        capture = reader.read_pointer(ptr)
        assert capture.url == record["url"] and capture.record_id == ptr["record_id"]
        local = (
            tmp_path / "copy" / next(k for k in warcs if k.endswith(ptr["filename"]))
        ).read_bytes()
        assert resolve_pointer(local, ptr)["raw"] == capture.raw
        assert capture.raw == news_site.sent(urlsplit(record["url"]).path)[-1]
    manifest = json.loads((tmp_path / "copy" / next(k for k in keys if "crawls/" in k)).read_text())
    assert manifest["archive_uri"] == f"s3://{bucket}/news"
    assert manifest["counts"]["uploads_pending"] == 0
    assert {f["key"] for f in manifest["files"]} == {
        k.removeprefix("news/") for k in keys if "crawls/" not in k
    }
    assert not spool_leftovers(tmp_path / "spool")
    for addr in result.connections:
        assert addr.startswith(("('127.0.0.1'", "('dns', '127.0.0.1'")), addr


def test_rollover_by_size_keeps_every_file_valid(news_site: Any, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    result = run_crawl(
        tmp_path,
        ["-a", f"start_urls={news_site.base_url}/"],
        {
            "NEWSWARC_ARCHIVE_URI": archive,
            "NEWSWARC_WARC_MAX_SIZE": 40_000,
            "NEWSWARC_ARTICLES_BATCH_ITEMS": 3,
        },
    )
    assert result.returncode == 0, result.log[-3000:]
    warcs = sorted(archive.glob("warc/*/*/*/*.warc.gz"))
    batches = sorted(archive.glob("articles/*/*/*/*.jsonl.gz"))
    assert len(warcs) >= 4 and len(batches) == -(-len(ARTICLES) // 3)
    names = {p.name: p for p in warcs}
    for path in warcs:
        check_warc_file(path)
    records = [r for b in batches for r in read_jsonl_gz(b)]
    assert len(records) == len(ARTICLES)
    for record in records:
        ptr = record["warc"]
        rec = resolve_pointer(names[ptr["filename"]].read_bytes(), ptr)
        assert rec["url"] == record["url"]


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_killed_crawl_is_repaired_and_uploaded_by_the_next_run(
    slow_site: NewsSite, tmp_path: Path
) -> None:
    archive, spool = tmp_path / "archive", tmp_path / "spool"
    settings = {
        "NEWSWARC_ARCHIVE_URI": archive,
        "NEWSWARC_SPOOL_DIR": spool,
        "CONCURRENT_REQUESTS": 1,
    }
    proc = start_crawl(tmp_path, ["-a", f"start_urls={slow_site.base_url}/"], settings)
    try:
        _wait_for(lambda: list(spool.glob("articles/*/*/*/*.jsonl.gz.open")), 60, "a first article")
        _wait_for(
            lambda: sum(f.stat().st_size for f in spool.glob("articles/*/*/*/*.open")) > 0,
            30,
            "an article written",
        )
        time.sleep(0.6)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    left = sorted(p.relative_to(spool).as_posix() for p in spool.rglob("*.open"))
    assert any(k.startswith("warc/") for k in left) and any(k.startswith("articles/") for k in left)
    assert not list(archive.glob("warc/*/*/*/*"))  # nothing was uploaded before the kill

    # The next run, of anything, repairs and uploads the leftovers first.
    result = run_crawl(
        tmp_path,
        ["-a", f"url={slow_site.base_url}/about.html"],
        {**settings, "CONCURRENT_REQUESTS": 8},
    )
    assert result.returncode == 0, result.log[-3000:]
    assert not list(spool.rglob("*.open"))
    for key in left:
        final = archive / key.removesuffix(".open")
        assert final.exists(), key
        if key.startswith("warc/"):
            check_warc_file(final)
    killed_records = [
        r
        for k in left
        if k.startswith("articles/")
        for r in read_jsonl_gz(archive / k.removesuffix(".open"))
    ]
    assert killed_records
    warcs = {p.name: p for p in archive.glob("warc/*/*/*/*.warc.gz")}
    for record in killed_records:
        assert schema_errors(record) == []
        assert (
            resolve_pointer(warcs[record["warc"]["filename"]].read_bytes(), record["warc"])["url"]
            == record["url"]
        )
    manifest = next(
        json.loads(p.read_text())
        for p in archive.glob("crawls/*.json")
        if json.loads(p.read_text())["recovered_files"]
    )
    expected = {k.removesuffix(".open") for k in left}
    # Each recovered WARC also gets the CDXJ index the killed run never wrote.
    expected |= {k.removesuffix(".warc.gz") + ".cdxj" for k in expected if k.endswith(".warc.gz")}
    assert sorted(manifest["recovered_files"]) == sorted(expected)
    for key in expected:
        assert (archive / key).exists(), key


@pytest.mark.s3
def test_s3_outage_during_crawl_delays_uploads_and_loses_nothing(
    slow_site: NewsSite, s3: SeaweedS3, tmp_path: Path
) -> None:
    bucket = s3.new_bucket()
    spool = tmp_path / "spool"
    proc = start_crawl(
        tmp_path,
        ["-a", f"start_urls={slow_site.base_url}/"],
        {
            "NEWSWARC_ARCHIVE_URI": f"s3://{bucket}/a",
            "NEWSWARC_SPOOL_DIR": spool,
            "NEWSWARC_WARC_MAX_SIZE": 30_000,
            "CONCURRENT_REQUESTS": 1,
            "NEWSWARC_UPLOAD_MIN_BACKOFF": 0.3,
            "NEWSWARC_UPLOAD_MAX_BACKOFF": 1.0,
        },
        env=s3.env(),
    )
    try:
        _wait_for(lambda: list(spool.glob("warc/*/*/*/*.open")), 60, "the crawl to start writing")
        s3.stop()
        # Files roll over and fail to upload while the store is down.
        _wait_for(
            lambda: len(list(spool.glob("warc/*/*/*/*.warc.gz"))) >= 2,
            60,
            "closed files to pile up",
        )
        s3.start()
        _out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    assert "failed (attempt 1)" in err
    heads = download_bucket(s3, bucket, tmp_path / "copy")
    manifest = json.loads(next((tmp_path / "copy").glob("a/crawls/*.json")).read_text())
    assert manifest["counts"]["uploads_pending"] == 0
    assert any(f["attempts"] > 1 for f in manifest["files"])
    assert {f["key"] for f in manifest["files"]} == {
        k.removeprefix("a/") for k in heads if "/crawls/" not in k
    }
    warcs = [k for k in heads if k.endswith(".warc.gz")]
    for key in warcs:
        check_warc_file(tmp_path / "copy" / key)
    records = [
        r for k in heads if k.endswith(".jsonl.gz") for r in read_jsonl_gz(tmp_path / "copy" / k)
    ]
    assert sorted(urlsplit(r["url"]).path for r in records) == sorted(ARTICLES)
    assert not spool_leftovers(spool)


@pytest.mark.parametrize(
    ("uri", "env_secret", "message"),
    [
        ("s3://{bucket}/x", "wrong-secret", "denied"),
        ("s3://no-such-bucket-anywhere/x", None, "does not exist"),
        ("ftp://example/x", None, "unsupported archive URI scheme"),
        ("{tmp}/blocked/archive", None, "not writable"),
    ],
)
@pytest.mark.s3
def test_bad_archive_config_stops_the_crawl_at_start(
    s3: SeaweedS3, tmp_path: Path, uri: str, env_secret: str | None, message: str
) -> None:
    site = NewsSite().start()
    try:
        (tmp_path / "blocked").write_text("a file where a folder should be")
        env = s3.env()
        if env_secret:
            env["AWS_SECRET_ACCESS_KEY"] = env_secret
        bucket = s3.new_bucket()
        result = run_crawl(
            tmp_path,
            ["-a", f"start_urls={site.base_url}/"],
            {"NEWSWARC_ARCHIVE_URI": uri.format(bucket=bucket, tmp=tmp_path)},
            env=env,
            timeout=60,
        )
        assert result.returncode != 0
        critical = [ln for ln in result.log.splitlines() if "CRITICAL" in ln]
        assert len(critical) == 1 and "archive unusable, crawl not started" in critical[0]
        assert "Traceback" not in result.log  # one clear message, not Scrapy's internals
        assert message in critical[0]
        assert site.requests == []  # not one page fetched
    finally:
        site.stop()


def test_archive_uri_setting_and_its_alias(tmp_path: Path) -> None:
    from scrapy.settings import Settings

    from crawler.extensions import storage_from_settings
    from pipelines.storage import FileStorage

    plain = storage_from_settings(Settings({"NEWSWARC_ARCHIVE_URI": str(tmp_path / "a")}))
    assert isinstance(plain, FileStorage) and plain.root == tmp_path / "a"
    alias = storage_from_settings(
        Settings({"NEWSWARC_ARCHIVE_URI": str(tmp_path / "a"), "ARCHIVE_URI": str(tmp_path / "b")})
    )
    assert isinstance(alias, FileStorage) and alias.root == tmp_path / "b"


def test_default_spool_does_not_depend_on_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crawler.extensions import default_spool
    from pipelines.storage import FileStorage, storage_from_uri

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    options = S3Options(endpoint_url="http://x:1")
    s3 = storage_from_uri("s3://bucket/news/daily", s3=options)
    spool = default_spool(s3, None)
    assert spool.parent == tmp_path / "state/newswarc/spool"
    assert spool.name.startswith("bucket_news_daily-")
    # Archives whose names flatten alike still get spools of their own.
    others = ["s3://bucket_news/daily", "s3://bucket-news/daily"]
    spools = {default_spool(storage_from_uri(u, s3=options), None) for u in others}
    assert len(spools | {spool}) == 3
    elsewhere = storage_from_uri("s3://bucket/news/daily", s3=S3Options(endpoint_url="http://y:2"))
    assert default_spool(elsewhere, None) != spool
    assert default_spool(FileStorage(tmp_path / "arch"), None) == tmp_path / "arch/.spool"
    assert default_spool(s3, str(tmp_path / "mine")) == tmp_path / "mine"


def test_a_spool_of_another_archive_is_refused(tmp_path: Path) -> None:
    from crawler.extensions import claim_spool
    from pipelines.storage import FileStorage, StorageError

    spool = tmp_path / "spool"
    spool.mkdir()
    claim_spool(spool, FileStorage(tmp_path / "one"))
    claim_spool(spool, FileStorage(tmp_path / "one"))  # the same archive again: fine
    with pytest.raises(StorageError, match="belongs to"):
        claim_spool(spool, FileStorage(tmp_path / "two"))


def test_a_reused_crawl_id_is_refused(news_site: Any, tmp_path: Path) -> None:
    settings = {"NEWSWARC_ARCHIVE_URI": tmp_path / "a", "NEWSWARC_CRAWL_ID": "daily-1"}
    args = ["-a", f"url={news_site.base_url}/about.html"]
    assert run_crawl(tmp_path, args, settings).returncode == 0
    again = run_crawl(tmp_path, args, settings)
    assert again.returncode != 0 and "crawl id daily-1 was already used" in again.log


@pytest.mark.s3
def test_an_unreachable_store_at_start_is_a_config_error_by_default(
    s3: SeaweedS3, tmp_path: Path
) -> None:
    bucket = s3.new_bucket()
    s3.stop()
    site = NewsSite().start()
    try:
        result = run_crawl(
            tmp_path,
            ["-a", f"start_urls={site.base_url}/"],
            {"NEWSWARC_ARCHIVE_URI": f"s3://{bucket}/a", "NEWSWARC_SPOOL_DIR": tmp_path / "spool"},
            env=s3.env(),
            timeout=120,
        )
        assert result.returncode == 1, result.log[-3000:]
        critical = [ln for ln in result.log.splitlines() if "CRITICAL" in ln]
        assert len(critical) == 1 and "cannot reach S3" in critical[0], critical
        assert "Traceback" not in result.log
        assert site.requests == []
    finally:
        site.stop()


@pytest.mark.s3
def test_start_offline_spools_and_uploads_when_the_store_comes_back(
    slow_site: NewsSite, s3: SeaweedS3, tmp_path: Path
) -> None:
    bucket = s3.new_bucket()
    s3.stop()
    spool = tmp_path / "spool"
    proc = start_crawl(
        tmp_path,
        ["-a", f"start_urls={slow_site.base_url}/"],
        {
            "NEWSWARC_ARCHIVE_URI": f"s3://{bucket}/a",
            "NEWSWARC_SPOOL_DIR": spool,
            "NEWSWARC_START_OFFLINE": True,
            "NEWSWARC_WARC_MAX_SIZE": 30_000,
            "CONCURRENT_REQUESTS": 1,
            "NEWSWARC_UPLOAD_MIN_BACKOFF": 0.3,
            "NEWSWARC_UPLOAD_MAX_BACKOFF": 1.0,
        },
        env=s3.env(),
    )
    try:
        # The crawl runs with the store down: closed files wait in the spool.
        _wait_for(
            lambda: len(list(spool.glob("warc/*/*/*/*.warc.gz"))) >= 2,
            90,
            "closed files to wait in the spool",
        )
        assert proc.poll() is None
        s3.start()
        _out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    assert "starting anyway (NEWSWARC_START_OFFLINE)" in err and "CRITICAL" not in err
    assert "failed (attempt 1)" in err
    heads = download_bucket(s3, bucket, tmp_path / "copy")
    manifest = json.loads(next((tmp_path / "copy").glob("a/crawls/*.json")).read_text())
    assert manifest["started_offline"] is True
    assert manifest["counts"]["uploads_pending"] == 0
    assert any(f["attempts"] > 1 for f in manifest["files"])
    assert all(f["status"] == "stored" for f in manifest["files"])
    assert {f["key"] for f in manifest["files"]} == {
        k.removeprefix("a/") for k in heads if "/crawls/" not in k
    }
    warcs = [k for k in heads if k.endswith(".warc.gz")]
    assert len(warcs) >= 2
    for key in warcs:
        check_warc_file(tmp_path / "copy" / key)
    assert len([k for k in heads if k.endswith(".cdxj")]) == len(warcs)
    records = [
        r for k in heads if k.endswith(".jsonl.gz") for r in read_jsonl_gz(tmp_path / "copy" / k)
    ]
    assert sorted(urlsplit(r["url"]).path for r in records) == sorted(ARTICLES)
    assert not spool_leftovers(spool)
