from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tracemalloc
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipelines.cdxj import IndexLine, cdxj_key
from pipelines.spool import Member, iter_members
from pipelines.storage import FileStorage
from pipelines.verify import Problem, Report, main_for_tests, verify_archive
from tests.crawlrun import read_jsonl_gz, run_crawl
from tests.s3server import SeaweedS3

WARC_KINDS = {"gzip", "truncated", "record", "digest"}


def copy_archive(local_crawl: dict[str, Any], tmp_path: Path) -> Path:
    """A private copy of the shared crawl, safe to damage."""
    dest = tmp_path / "archive"
    shutil.copytree(local_crawl["archive"], dest, ignore=shutil.ignore_patterns(".spool"))
    return dest


def key_of(archive: Path, path: Path) -> str:
    return path.relative_to(archive).as_posix()


def only_warc(archive: Path) -> Path:
    warcs = sorted(archive.glob("warc/*/*/*/*.warc.gz"))
    assert len(warcs) == 1, warcs
    return warcs[0]


def verify(archive: Path, since: date | None = None) -> Report:
    return verify_archive(FileStorage(archive), since=since)


def problems_of(report: Report, key: str, kinds: set[str] | None = None) -> list[Problem]:
    return [p for p in report.problems if p.key == key and (kinds is None or p.kind in kinds)]


def test_verify_imports_no_scrapy() -> None:
    code = (
        "import sys, pipelines.verify;"
        "bad = [m for m in sys.modules if m == 'scrapy' or m.startswith(('scrapy.', 'twisted'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_good_archive_passes_and_everything_is_counted(
    local_crawl: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    archive = local_crawl["archive"]  # only read: verification never writes
    report = verify(archive)
    assert report.problems == [] and report.ok

    warcs = sorted(archive.glob("warc/*/*/*/*.warc.gz"))
    records = indexed = 0
    for path in warcs:
        with path.open("rb") as fh:
            for rec in ArchiveIterator(fh):
                records += 1
                indexed += rec.rec_type in ("response", "revisit")
    index_lines = sum(
        1
        for path in archive.glob("warc/*/*/*/*.cdxj")
        for line in path.read_text().splitlines()
        if line.strip()
    )
    batches = sorted(archive.glob("articles/*/*/*/*.jsonl.gz"))
    manifests = sorted(archive.glob("crawls/*.json"))
    stored = [
        f for m in manifests for f in json.loads(m.read_text())["files"] if f["status"] == "stored"
    ]
    assert warcs and records > len(warcs) and stored
    assert report.warc_files == len(warcs)
    assert report.warc_records == records
    assert report.warc_bytes == sum(p.stat().st_size for p in warcs)
    assert report.index_files == len(warcs)
    assert report.index_lines == index_lines == indexed
    assert report.article_batches == len(batches)
    assert report.articles == sum(len(read_jsonl_gz(b)) for b in batches) == 8
    assert report.manifests == len(manifests) == 1
    assert report.manifest_files == len(stored)

    assert main_for_tests(["verify", str(archive)]) == 0
    out = capsys.readouterr().out
    assert "problems:          none" in out
    assert f"WARC files:      {len(warcs)} ({records} records" in out
    assert "(8 articles)" in out


def test_flipped_byte_names_the_damaged_record(
    local_crawl: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = copy_archive(local_crawl, tmp_path)
    path = only_warc(archive)
    key = key_of(archive, path)
    members = list(iter_members(path))
    victim = members[len(members) // 2]
    assert victim.offset > 0 and victim.offset + victim.length < path.stat().st_size
    data = bytearray(path.read_bytes())
    data[victim.offset + victim.length // 2] ^= 0xFF
    path.write_bytes(bytes(data))

    report = verify(archive)
    damage = problems_of(report, key, WARC_KINDS)
    assert [(p.kind, p.offset) for p in damage] == [("gzip", victim.offset)]
    # Every other record was still found and checked: the scan picked up after the damage.
    assert report.warc_records == len(members) - 1
    assert f"next intact member at {victim.offset + victim.length}" in damage[0].message

    assert main_for_tests(["verify", str(archive)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("gzip")
    assert f"{key} @ {victim.offset}:" in out


def test_truncated_last_record(local_crawl: dict[str, Any], tmp_path: Path) -> None:
    archive = copy_archive(local_crawl, tmp_path)
    path = only_warc(archive)
    key = key_of(archive, path)
    members = list(iter_members(path))
    last = members[-1]
    with path.open("r+b") as fh:
        fh.truncate(last.offset + last.length // 2)

    report = verify(archive)
    damage = problems_of(report, key, WARC_KINDS)
    assert [(p.kind, p.offset) for p in damage] == [("truncated", last.offset)]
    assert report.warc_records == len(members) - 1
    # The manifest still lists the full size.
    sizes = problems_of(report, key, {"manifest"})
    assert len(sizes) == 1 and str(last.offset + last.length) in sizes[0].message


def test_bad_digest_in_a_sound_gzip_member(local_crawl: dict[str, Any], tmp_path: Path) -> None:
    archive = copy_archive(local_crawl, tmp_path)
    path = only_warc(archive)
    key = key_of(archive, path)
    first = IndexLine.parse(Path(archive, cdxj_key(key)).read_text().splitlines()[0]).data
    offset, length = int(first["offset"]), int(first["length"])
    data = path.read_bytes()
    record = bytearray(gzip.decompress(data[offset : offset + length]))
    assert record.endswith(b"\r\n\r\n")
    record[-5] ^= 0x01  # the payload's last byte; the record keeps its length and shape
    path.write_bytes(data[:offset] + gzip.compress(bytes(record)) + data[offset + length :])

    report = verify(archive)
    damage = problems_of(report, key, WARC_KINDS)
    assert {p.kind for p in damage} == {"digest"}
    assert {p.offset for p in damage} == {offset}
    messages = " ".join(p.message for p in damage)
    assert "WARC-Block-Digest" in messages and "WARC-Payload-Digest" in messages


def test_manifest_names_a_deleted_warc(local_crawl: dict[str, Any], tmp_path: Path) -> None:
    archive = copy_archive(local_crawl, tmp_path)
    path = only_warc(archive)
    key = key_of(archive, path)
    path.unlink()

    report = verify(archive)
    manifest = key_of(archive, next(archive.glob("crawls/*.json")))
    missing = problems_of(report, key, {"manifest"})
    assert len(missing) == 1 and missing[0].offset is None
    assert manifest in missing[0].message and "missing" in missing[0].message
    assert problems_of(report, cdxj_key(key), {"index"})  # an index without its WARC file
    assert len([p for p in report.problems if p.kind == "article"]) == 8


def test_article_with_a_wrong_offset(local_crawl: dict[str, Any], tmp_path: Path) -> None:
    archive = copy_archive(local_crawl, tmp_path)
    batch = next(archive.glob("articles/*/*/*/*.jsonl.gz"))
    records = read_jsonl_gz(batch)
    victim, other = records[2], records[5]
    good = victim["warc"]["offset"]
    bad = other["warc"]["offset"]  # a real response record, but not this article's
    assert bad != good
    victim["warc"]["offset"] = bad
    members = [
        gzip.compress((json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8")) for r in records
    ]
    batch.write_bytes(b"".join(members))

    report = verify(archive)
    found = [p for p in report.problems if p.kind == "article"]
    assert len(found) == 1, report.problems
    problem = found[0]
    assert problem.key == key_of(archive, batch)
    assert problem.offset == sum(len(m) for m in members[:2])
    assert victim["url"] in problem.message and f"offset {bad} " in problem.message
    assert report.articles == len(records)


def test_index_line_with_a_wrong_offset(local_crawl: dict[str, Any], tmp_path: Path) -> None:
    archive = copy_archive(local_crawl, tmp_path)
    key = key_of(archive, only_warc(archive))
    index = archive / cdxj_key(key)
    lines = index.read_bytes().splitlines(keepends=True)
    parsed = [IndexLine.parse(line.decode()) for line in lines]
    bad = parsed[0].data["offset"]
    victim = 3
    fields = {**parsed[victim].data, "offset": bad}
    lines[victim] = (
        IndexLine(parsed[victim].key, parsed[victim].timestamp, tuple(fields.items())).to_text()
        + "\n"
    ).encode()
    index.write_bytes(b"".join(lines))

    report = verify(archive)
    found = [p for p in report.problems if p.kind == "index"]
    assert len(found) == 1, report.problems
    assert found[0].key == cdxj_key(key)
    assert found[0].offset == sum(len(line) for line in lines[:victim])
    assert f"line {victim + 1}:" in found[0].message and f"offset {bad} " in found[0].message


def test_missing_index(local_crawl: dict[str, Any], tmp_path: Path) -> None:
    archive = copy_archive(local_crawl, tmp_path)
    key = key_of(archive, only_warc(archive))
    (archive / cdxj_key(key)).unlink()
    report = verify(archive)
    found = [p for p in report.problems if p.kind == "index"]
    assert [(p.key, p.offset) for p in found] == [(cdxj_key(key), None)]
    assert key in found[0].message and report.index_files == 0


def test_since_skips_older_days(local_crawl: dict[str, Any], tmp_path: Path) -> None:
    archive = copy_archive(local_crawl, tmp_path)
    crawl_day = date(*(int(p) for p in key_of(archive, only_warc(archive)).split("/")[1:4]))
    old_day = crawl_day - timedelta(days=400)
    old = archive / f"warc/{old_day:%Y/%m/%d}/newswarc-{old_day:%Y%m%d}000000-00000-x.1.warc.gz"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"not a WARC file at all")
    old_key = key_of(archive, old)

    everything = verify(archive)
    assert {(p.kind, p.offset) for p in problems_of(everything, old_key)} == {("gzip", 0)}
    assert problems_of(everything, cdxj_key(old_key), {"index"})
    assert everything.warc_files == 2

    recent = verify(archive, since=crawl_day)
    assert recent.problems == [] and recent.warc_files == 1 and recent.articles == 8
    assert recent.manifests == 1

    later = verify(archive, since=crawl_day + timedelta(days=1))
    assert later.problems == []
    assert (later.warc_files, later.articles, later.manifests) == (0, 0, 0)

    assert main_for_tests(["verify", str(archive), "--since", crawl_day.isoformat()]) == 0
    assert main_for_tests(["verify", str(archive)]) == 1
    with pytest.raises(SystemExit):
        main_for_tests(["verify", str(archive), "--since", "yesterday"])


def test_empty_or_mistyped_archive_is_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main_for_tests(["verify", str(tmp_path / "no-such-archive")]) == 1
    assert capsys.readouterr().out.startswith("archive")


def _big_warc(path: Path, responses: int, size: int) -> None:
    path.parent.mkdir(parents=True)
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "test"}))
        for n in range(responses):
            http = StatusAndHeaders(
                "200 OK",
                [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))],
                protocol="HTTP/1.1",
            )
            record = writer.create_warc_record(
                f"http://127.0.0.1/big/{n}",
                "response",
                payload=io.BytesIO(os.urandom(size)),  # incompressible: the file is as big
                http_headers=http,
            )
            writer.write_record(record)


def test_memory_stays_flat_on_big_records(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    path = archive / "warc/2026/01/01/newswarc-20260101000000-00000-big.1.warc.gz"
    _big_warc(path, responses=5, size=8 * 1024 * 1024)
    assert path.stat().st_size > 40 * 1024 * 1024

    tracemalloc.start()
    try:
        report = verify(archive)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # warcio wrote the digests: they all check out, streamed in pieces across chunk boundaries.
    key = key_of(archive, path)
    assert [(p.kind, p.key) for p in report.problems] == [("index", cdxj_key(key))]
    assert report.warc_records == 6 and report.warc_bytes == path.stat().st_size
    assert peak < 16 * 1024 * 1024, peak


def _last_member(data: bytes, tmp_path: Path) -> Member:
    local = tmp_path / "copy.warc.gz"
    local.write_bytes(data)
    return list(iter_members(local))[-1]


@pytest.mark.s3
def test_s3_archive_verifies(news_site: Any, s3: SeaweedS3, tmp_path: Path) -> None:
    bucket = s3.new_bucket()
    result = run_crawl(
        tmp_path,
        ["-a", f"start_urls={news_site.base_url}/"],
        {"NEWSWARC_ARCHIVE_URI": f"s3://{bucket}/x", "NEWSWARC_SPOOL_DIR": tmp_path / "spool"},
        env=s3.env(),
    )
    assert result.returncode == 0, result.log[-3000:]
    storage = s3.storage(f"s3://{bucket}/x")
    report = verify_archive(storage)
    assert report.problems == []
    warcs = [k for k in storage.list("warc/") if k.endswith(".warc.gz")]
    assert report.warc_files == len(warcs) >= 1 and report.warc_records > 2 * len(warcs)
    assert report.index_files == len(warcs) and report.index_lines >= 8
    assert report.articles == 8 and report.manifests == 1 and report.manifest_files >= 3

    # The same damage as on a folder is found through the S3 stream.
    client = s3.client()
    key = warcs[0]
    data = client.get_object(Bucket=bucket, Key=f"x/{key}")["Body"].read()
    last = _last_member(data, tmp_path)
    client.put_object(Bucket=bucket, Key=f"x/{key}", Body=data[: last.offset + 10])
    damaged = verify_archive(storage)
    assert [(p.kind, p.offset) for p in problems_of(damaged, key, WARC_KINDS)] == [
        ("truncated", last.offset)
    ]


def test_problem_lines_are_readable() -> None:
    assert str(Problem("gzip", "warc/a.warc.gz", 12, "bad")) == "gzip      warc/a.warc.gz @ 12: bad"
    assert str(Problem("manifest", "k", None, "gone")) == "manifest  k @ -: gone"
    report = Report()
    report.add("index", "k", 3, "two\nlines")
    assert report.problems[0].message == "two lines" and not report.ok


def test_merged_day_indexes_are_checked_too(local_crawl: dict[str, Any], tmp_path: Path) -> None:
    from pipelines.indexes import build_indexes

    archive = tmp_path / "archive"
    shutil.copytree(local_crawl["archive"], archive, ignore=shutil.ignore_patterns(".spool"))
    storage = FileStorage(archive)
    build_indexes(storage)
    clean = verify_archive(storage)
    assert clean.problems == []
    day_index = next(archive.glob("indexes/*/*/*.cdxj"))
    lines = day_index.read_text().splitlines()
    wrong = json.loads(lines[2].split(" ", 2)[2])
    wrong["offset"] = str(int(wrong["offset"]) + 7)
    key, stamp, _ = lines[2].split(" ", 2)
    lines[2] = f"{key} {stamp} {json.dumps(wrong)}"
    day_index.write_text("\n".join(lines) + "\n")
    report = verify_archive(storage)
    index_key = day_index.relative_to(archive).as_posix()
    assert [p.key for p in report.problems] == [index_key]
    assert "line 3" in report.problems[0].message
