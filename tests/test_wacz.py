"""WACZ packages of one crawl or one day, checked with py-wacz's validator and by reading them."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import random
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import IO, Any

import pytest

from pipelines.cdxj import IndexLine
from pipelines.storage import FileStorage
from pipelines.wacz import INDEX_PATH, PAGES_HEADER, PAGES_PATH, register, write_wacz
from tests.archivecheck import resolve_pointer, responses
from tests.crawlrun import read_jsonl_gz
from tests.s3server import SeaweedS3

PACKAGE_FILES = {INDEX_PATH, PAGES_PATH, "datapackage.json", "datapackage-digest.json"}


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def crawl(local_crawl: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    archive: Path = local_crawl["archive"]
    before = _snapshot(archive)
    (manifest_path,) = archive.glob("crawls/*.json")
    manifest = json.loads(manifest_path.read_text("utf-8"))
    warcs = sorted(archive.glob("warc/*/*/*/*.warc.gz"))
    records = [
        r for f in sorted(archive.glob("articles/*/*/*/*.jsonl.gz")) for r in read_jsonl_gz(f)
    ]
    out = tmp_path_factory.mktemp("wacz")
    storage = FileStorage(archive)
    by_crawl = write_wacz(storage, out / "crawl.wacz", crawl_id=manifest["crawl_id"])
    day = dt.date(*(int(x) for x in warcs[0].relative_to(archive).parts[1:4]))
    by_date = write_wacz(storage, out / "day.wacz", date=day)
    return {
        "archive": archive,
        "before": before,
        "crawl_id": manifest["crawl_id"],
        "warcs": warcs,
        "records": records,
        "day": day,
        "by_crawl": by_crawl,
        "by_date": by_date,
        "out": out,
    }


def _validate(tools_bin: Path, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tools_bin / "wacz"), "validate", "-f", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _pages(wacz: zipfile.ZipFile) -> list[dict[str, Any]]:
    return [json.loads(line) for line in wacz.read(PAGES_PATH).decode("utf-8").splitlines()]


@pytest.mark.parametrize("which", ["by_crawl", "by_date"])
def test_package_passes_wacz_validate(crawl: dict[str, Any], tools_bin: Path, which: str) -> None:
    summary = crawl[which]
    assert summary.written and summary.path.exists()
    proc = _validate(tools_bin, summary.path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Version detected as 1.1.1" in proc.stdout
    assert "the passed WACZ is valid" in proc.stdout


def test_validate_rejects_a_package_whose_hash_is_wrong(
    crawl: dict[str, Any], tools_bin: Path, tmp_path: Path
) -> None:
    # The validator really checks what the datapackage says: change a few bytes of the pages
    # (same length), keep everything else.
    tampered = tmp_path / "tampered.wacz"
    with zipfile.ZipFile(crawl["by_crawl"].path) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == PAGES_PATH:
                data = data.replace(b'"All Pages"', b'"all pages"', 1)
            dst.writestr(info, data)
    proc = _validate(tools_bin, tampered)
    assert proc.returncode != 0
    assert "the passed WACZ is invalid" in proc.stdout
    assert "hash-count" in proc.stdout  # frictionless: the pages' sha256 is not the listed one


def test_package_holds_every_warc_of_the_crawl_byte_for_byte(crawl: dict[str, Any]) -> None:
    summary = crawl["by_crawl"]
    archive = crawl["archive"]
    assert summary.warc_files == [p.relative_to(archive).as_posix() for p in crawl["warcs"]]
    assert summary.warc_bytes == sum(p.stat().st_size for p in crawl["warcs"])
    assert summary.missing == [] and summary.reindexed == []
    with zipfile.ZipFile(summary.path) as wacz:
        names = set(wacz.namelist())
        assert names == {f"archive/{p.name}" for p in crawl["warcs"]} | PACKAGE_FILES
        for path in crawl["warcs"]:
            info = wacz.getinfo(f"archive/{path.name}")
            # Stored, not deflated: replay tools read records by offset straight from the ZIP.
            assert info.compress_type == zipfile.ZIP_STORED
            assert info.compress_size == info.file_size == path.stat().st_size
            assert wacz.read(info) == path.read_bytes()


def test_index_lines_resolve_into_the_packaged_warcs(crawl: dict[str, Any]) -> None:
    summary = crawl["by_crawl"]
    with zipfile.ZipFile(summary.path) as wacz:
        text = wacz.read(INDEX_PATH).decode("utf-8")
        warcs = {n.removeprefix("archive/"): wacz.read(n) for n in wacz.namelist() if "/" in n}
    lines = [IndexLine.parse(t) for t in text.splitlines()]
    expected = [r for p in crawl["warcs"] for r in responses(p)]
    assert len(lines) == summary.index_lines == len(expected) > 0
    assert lines == sorted(lines)
    for line in lines:
        d = line.data
        assert d["filename"] in warcs, d["filename"]
        rec = resolve_pointer(
            warcs[d["filename"]], {"offset": int(d["offset"]), "length": int(d["length"])}
        )
        assert rec["type"] == "response" and rec["url"] == d["url"]
        assert rec["digest"] == d["digest"]
    assert sorted(line.data["url"] for line in lines) == sorted(r["url"] for r in expected)


def test_pages_list_exactly_the_crawls_articles(crawl: dict[str, Any]) -> None:
    with zipfile.ZipFile(crawl["by_crawl"].path) as wacz:
        header, *pages = _pages(wacz)
    assert header == PAGES_HEADER
    assert header == {
        "format": "json-pages-1.0",
        "id": "pages",
        "title": "All Pages",
        "hasText": True,
    }
    records = crawl["records"]
    assert len(pages) == crawl["by_crawl"].pages == len(records) == 8
    by_url = {r["url"]: r for r in records}
    assert sorted(p["url"] for p in pages) == sorted(by_url)
    assert len({p["id"] for p in pages}) == len(pages)
    for page in pages:
        record = by_url[page["url"]]
        assert page["title"] == record["title"] and page["title"]
        assert page["text"] == record["text"] and len(page["text"]) > 400
        assert page["ts"] == record["warc"]["date"]
        assert dt.datetime.fromisoformat(page["ts"].replace("Z", "+00:00")).tzinfo is not None
    arabic = next(p for p in pages if p["url"].endswith("/ar/2026/11/24/123290.html"))
    assert any("\u0600" <= ch <= "\u06ff" for ch in arabic["text"])  # cp1256 page, decoded


def test_datapackage_lists_every_file_with_its_hash(crawl: dict[str, Any]) -> None:
    with zipfile.ZipFile(crawl["by_crawl"].path) as wacz:
        raw = wacz.read("datapackage.json")
        package = json.loads(raw)
        digest = json.loads(wacz.read("datapackage-digest.json"))
        contents = {n: wacz.read(n) for n in wacz.namelist()}
    assert package["profile"] == "data-package"
    assert package["wacz_version"] == "1.1.1"
    assert package["software"].startswith("newswarc ")
    dt.datetime.strptime(package["created"], "%Y-%m-%dT%H:%M:%SZ")
    listed = {r["path"]: r for r in package["resources"]}
    assert set(listed) == set(contents) - {"datapackage.json", "datapackage-digest.json"}
    for path, resource in listed.items():
        assert resource["bytes"] == len(contents[path])
        assert resource["hash"] == "sha256:" + hashlib.sha256(contents[path]).hexdigest()
        assert resource["name"] == path.rsplit("/", 1)[-1].lower()
    assert digest == {
        "path": "datapackage.json",
        "hash": "sha256:" + hashlib.sha256(raw).hexdigest(),
    }


def test_package_by_date_holds_the_same_captures(crawl: dict[str, Any]) -> None:
    by_date, by_crawl = crawl["by_date"], crawl["by_crawl"]
    assert by_date.selection == f"day {crawl['day'].isoformat()}"
    assert by_date.warc_files == by_crawl.warc_files
    with zipfile.ZipFile(by_date.path) as a, zipfile.ZipFile(by_crawl.path) as b:
        assert a.read(INDEX_PATH) == b.read(INDEX_PATH)
        assert sorted(p["url"] for p in _pages(a)[1:]) == sorted(p["url"] for p in _pages(b)[1:])


def test_a_day_without_warc_files_writes_nothing(crawl: dict[str, Any], tmp_path: Path) -> None:
    storage = FileStorage(crawl["archive"])
    for day in (crawl["day"] - dt.timedelta(days=1), dt.date(2001, 1, 1)):
        out = tmp_path / f"{day}.wacz"
        summary = write_wacz(storage, out, date=day)
        assert not summary.written and summary.path is None
        assert summary.warc_files == [] and summary.pages == 0
        assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no partial file left either
    with pytest.raises(LookupError):
        write_wacz(storage, tmp_path / "x.wacz", crawl_id="19990101T000000Z-000000")
    with pytest.raises(ValueError):
        write_wacz(storage, tmp_path / "x.wacz")
    with pytest.raises(ValueError):
        write_wacz(storage, tmp_path / "x.wacz", date=crawl["day"], crawl_id=crawl["crawl_id"])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newswarc")
    register(parser.add_subparsers(dest="command", required=True))
    return parser


def _run_cli(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return int(args.func(args))


def test_cli_subcommand(
    crawl: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = str(crawl["archive"])
    out = tmp_path / "cli.wacz"
    assert _run_cli(["wacz", archive, "--crawl", crawl["crawl_id"], "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed
    assert f"WARC files:  {len(crawl['warcs'])} (" in printed
    assert f"pages:       {len(crawl['records'])}" in printed
    with zipfile.ZipFile(out) as wacz:
        assert len(_pages(wacz)) == len(crawl["records"]) + 1

    out = tmp_path / "day.wacz"
    assert _run_cli(["wacz", archive, "--date", crawl["day"].isoformat(), "-o", str(out)]) == 0
    assert out.exists()

    out = tmp_path / "none.wacz"
    assert _run_cli(["wacz", archive, "--date", "2001-01-01", "-o", str(out)]) == 1
    assert "nothing written" in capsys.readouterr().err and not out.exists()
    assert _run_cli(["wacz", archive, "--crawl", "nope", "-o", str(out)]) == 1
    assert "no manifest" in capsys.readouterr().err

    for bad in (
        ["wacz", archive, "-o", str(out)],  # neither --date nor --crawl
        ["wacz", archive, "--date", "2026-11-29", "--crawl", "x", "-o", str(out)],
        ["wacz", archive, "--date", "29/11/2026", "-o", str(out)],
        ["wacz", archive, "--crawl", "x"],  # no output
    ):
        with pytest.raises(SystemExit):
            _parser().parse_args(bad)
        capsys.readouterr()


@pytest.fixture
def archive_copy(crawl: dict[str, Any], tmp_path: Path) -> Path:
    copy = tmp_path / "archive"
    shutil.copytree(crawl["archive"], copy, ignore=shutil.ignore_patterns(".spool"))
    return copy


def test_missing_or_unsorted_index_is_rebuilt(crawl: dict[str, Any], archive_copy: Path) -> None:
    with zipfile.ZipFile(crawl["by_crawl"].path) as wacz:
        reference = wacz.read(INDEX_PATH)
    (index,) = archive_copy.glob("warc/*/*/*/*.cdxj")
    lines = index.read_text("utf-8").splitlines()
    random.Random(7).shuffle(lines)
    index.write_text("\n".join(lines) + "\n", "utf-8")
    shuffled = write_wacz(
        FileStorage(archive_copy), archive_copy.parent / "s.wacz", date=crawl["day"]
    )
    index.unlink()
    rebuilt = write_wacz(
        FileStorage(archive_copy), archive_copy.parent / "r.wacz", date=crawl["day"]
    )
    assert shuffled.reindexed == []
    assert rebuilt.reindexed == rebuilt.warc_files
    for summary in (shuffled, rebuilt):
        assert summary.path is not None
        with zipfile.ZipFile(summary.path) as wacz:
            assert wacz.read(INDEX_PATH) == reference


def test_crawl_manifest_files_missing_or_recovered(
    crawl: dict[str, Any], archive_copy: Path
) -> None:
    manifest_path = archive_copy / f"crawls/{crawl['crawl_id']}.json"
    manifest = json.loads(manifest_path.read_text("utf-8"))
    (warc,) = (f["key"] for f in manifest["files"] if f["key"].endswith(".warc.gz"))
    pending = warc.replace("-00000-", "-00001-")
    recovered = warc.replace("-00000-", "-00002-")
    shutil.copy(archive_copy / warc, archive_copy / recovered)  # an earlier crawl's leftover
    manifest["files"] += [{"key": pending, "status": "pending"}, {"key": recovered}]
    manifest["recovered_files"] = [recovered]
    manifest_path.write_text(json.dumps(manifest), "utf-8")
    summary = write_wacz(
        FileStorage(archive_copy), archive_copy.parent / "c.wacz", crawl_id=crawl["crawl_id"]
    )
    assert summary.warc_files == [warc]
    assert summary.missing == [pending]
    assert pending in summary.format()
    # The day's package takes every WARC file of the day, the recovered one included.
    day = write_wacz(FileStorage(archive_copy), archive_copy.parent / "d.wacz", date=crawl["day"])
    assert day.warc_files == sorted([warc, recovered])


class _SpyReader(io.BufferedReader):
    """Records the size of every read and the bytes it returned."""

    def __init__(self, raw: io.FileIO, log: dict[str, Any]) -> None:
        super().__init__(raw)
        self.log = log

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self.log["asked"].append(-1 if size is None else size)
        self.log["got"] += len(data)
        return data


class _SpyStorage(FileStorage):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.logs: dict[str, dict[str, Any]] = {}

    def open(self, key: str) -> IO[bytes]:
        if not key.endswith(".warc.gz"):
            return super().open(key)
        log = self.logs.setdefault(key, {"opened": 0, "asked": [], "got": 0})
        log["opened"] += 1
        return _SpyReader(io.FileIO(self._path(key)), log)

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        raise AssertionError(f"read_range({key!r}) is not expected")


def test_warc_files_are_streamed_not_read_whole(crawl: dict[str, Any], tmp_path: Path) -> None:
    storage = _SpyStorage(crawl["archive"])
    summary = write_wacz(storage, tmp_path / "spy.wacz", crawl_id=crawl["crawl_id"])
    assert set(storage.logs) == set(summary.warc_files)
    for key, log in storage.logs.items():
        # Opened once, read to its end in bounded pieces: never a read() of the whole file.
        assert log["opened"] == 1
        assert log["got"] == (crawl["archive"] / key).stat().st_size
        assert all(0 < n <= 1024 * 1024 for n in log["asked"]), (key, log["asked"][:5])


@pytest.mark.s3
def test_package_from_s3_equals_the_local_one(
    crawl: dict[str, Any], s3: SeaweedS3, tmp_path: Path
) -> None:
    bucket = s3.new_bucket()
    client = s3.client()
    archive = crawl["archive"]
    for path in archive.rglob("*"):
        key = path.relative_to(archive).as_posix()
        if path.is_file() and not key.startswith("."):
            client.upload_file(str(path), bucket, f"news/{key}")
    storage = s3.storage(f"s3://{bucket}/news")
    by_crawl = write_wacz(storage, tmp_path / "c.wacz", crawl_id=crawl["crawl_id"])
    by_date = write_wacz(storage, tmp_path / "d.wacz", date=crawl["day"])
    local = crawl["by_crawl"]
    for summary in (by_crawl, by_date):
        assert summary.warc_files == local.warc_files and summary.pages == local.pages
        assert summary.path is not None
        with zipfile.ZipFile(summary.path) as remote, zipfile.ZipFile(local.path) as ref:
            assert remote.namelist() == ref.namelist()
            for name in ref.namelist():
                if name.startswith(("archive/", "indexes/", "pages/")):
                    assert remote.read(name) == ref.read(name), name


def test_module_imports_no_scrapy() -> None:
    code = (
        "import sys, pipelines.wacz;"
        "bad = [m for m in sys.modules if m == 'scrapy' or m.startswith(('scrapy.', 'twisted'))];"
        "bad += [m for m in sys.modules if m.split('.')[0] in ('pywb', 'wacz')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_shared_archive_was_not_modified(crawl: dict[str, Any]) -> None:
    # Runs last in this module: packaging only reads the archive, and writes nothing into it.
    assert _snapshot(crawl["archive"]) == crawl["before"]
