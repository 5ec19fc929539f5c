"""Package the WARC files of one day or one crawl, their index and articles, as a WACZ file."""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import heapq
import io
import json
import os
import re
import shutil
import sys
import tempfile
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pipelines import __version__
from pipelines.cdxj import IndexLine, cdxj_key, index_warc
from pipelines.storage import Storage, storage_from_uri

#: The WACZ version these files follow.
WACZ_VERSION = "1.1.1"
#: Where the merged CDXJ index goes. pywb 2.10's ``wb-manager add --unpack-wacz`` only picks up
#: indexes named ``*.cdx`` or ``*.cdx.gz`` (it skips ``*.cdxj`` and then copies no WARC either);
#: ReplayWeb.page reads both. The content is CDXJ either way, as the WACZ spec requires.
INDEX_PATH = "indexes/index.cdx"
PAGES_PATH = "pages/pages.jsonl"
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages", "hasText": True}

_CHUNK = 1024 * 1024
_WARC_DAY = re.compile(r"^warc/(\d{4})/(\d{2})/(\d{2})/[^/]+$")
_CRAWL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_RESOURCE_NAME = re.compile(r"[^-a-z0-9._/]")


@dataclass
class WaczSummary:
    """What :func:`write_wacz` packaged.

    Attributes:
        selection: What was asked for: ``day YYYY-MM-DD`` or ``crawl ID``.
        path: The WACZ file written, or ``None`` when no WARC file matched.
        warc_files: Archive keys of the packaged WARC files, in package order.
        warc_bytes: Their total size.
        index_lines: Lines of ``indexes/index.cdx``.
        pages: Lines of ``pages/pages.jsonl`` after its header (one per article record).
        size: Size of the WACZ file in bytes (0 when nothing was written).
        missing: WARC files the crawl's manifest lists that are not in the archive (yet).
        reindexed: Packaged WARC files that had no ``.cdxj`` beside them and were indexed here.

    """

    selection: str
    path: Path | None = None
    warc_files: list[str] = field(default_factory=list)
    warc_bytes: int = 0
    index_lines: int = 0
    pages: int = 0
    size: int = 0
    missing: list[str] = field(default_factory=list)
    reindexed: list[str] = field(default_factory=list)

    @property
    def written(self) -> bool:
        """Whether a WACZ file was written (at least one WARC file matched)."""
        return self.path is not None

    def format(self) -> str:
        """Return a human-readable summary, several lines."""
        if self.path is None:
            text = f"newswarc wacz: no WARC files for {self.selection}; nothing written"
        else:
            text = (
                f"newswarc wacz: {self.selection} -> {self.path} ({self.size} bytes)\n"
                f"  WARC files:  {len(self.warc_files)} ({self.warc_bytes} bytes)\n"
                f"  index lines: {self.index_lines}\n"
                f"  pages:       {self.pages}"
            )
            if self.reindexed:
                text += f"\n  indexed here (no .cdxj): {len(self.reindexed)}"
        if self.missing:
            text += f"\n  listed but not in the archive: {', '.join(self.missing)}"
        return text


class _Hashing:
    """A writable that passes bytes on while counting them and hashing them with SHA-256."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes, /) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.out.write(data)


def _day_of(key: str) -> dt.date | None:
    match = _WARC_DAY.match(key)
    return dt.date(*(int(g) for g in match.groups())) if match else None


def _is_warc(key: str) -> bool:
    return key.startswith("warc/") and key.endswith((".warc.gz", ".warc"))


def _day_warcs(storage: Storage, day: dt.date) -> list[str]:
    prefix = f"warc/{day:%Y/%m/%d}/"
    return [k for k in storage.list(prefix) if _is_warc(k) and "/" not in k[len(prefix) :]]


def _crawl_warcs(storage: Storage, crawl_id: str) -> tuple[list[str], list[str], list[str]]:
    """Return the crawl's stored WARC keys, those it lists but the archive lacks, its batches."""
    if not _CRAWL_ID.match(crawl_id):
        raise ValueError(f"not a crawl id: {crawl_id!r}")
    key = f"crawls/{crawl_id}.json"
    if not storage.exists(key):
        raise LookupError(f"no manifest {key} in {storage.uri}")
    with storage.open(key) as fh:
        manifest = json.load(fh)
    # Leftovers of an earlier, killed crawl are uploaded (and listed) by the next one: they
    # hold that earlier crawl's captures, not this one's.
    recovered = set(manifest.get("recovered_files") or [])
    keys = [f["key"] for f in manifest.get("files") or [] if f.get("key") not in recovered]
    stored: list[str] = []
    missing: list[str] = []
    for k in dict.fromkeys(keys):
        if _is_warc(k):
            (stored if storage.exists(k) else missing).append(k)
    batches = [k for k in keys if k.startswith("articles/") and k.endswith(".jsonl.gz")]
    return sorted(stored), missing, batches


def _with_filename(line: IndexLine, filename: str) -> IndexLine:
    """Return ``line`` naming ``filename``, the WARC file's name inside ``archive/``."""
    if dict(line.fields).get("filename") == filename:
        return line
    fields = [(k, v) for k, v in line.fields if k != "filename"]
    return IndexLine(line.key, line.timestamp, (*fields, ("filename", filename)))


def _write_sorted_index(lines: Iterable[IndexLine], dest: Path) -> None:
    with dest.open("w", encoding="utf-8") as out:
        for line in sorted(lines):
            out.write(line.to_text() + "\n")


def _lines(stream: IO[bytes]) -> Iterator[bytes]:
    """Yield the lines of a stream read in bounded chunks (S3 bodies have no line buffering)."""
    rest = b""
    while chunk := stream.read(_CHUNK):
        *lines, rest = (rest + chunk).split(b"\n")
        yield from lines
    if rest:
        yield rest


def _stage_index(storage: Storage, warc: str, dest: Path) -> bool:
    """Copy the index of ``warc`` to ``dest``, sorted, naming the file as packaged.

    Returns whether the WARC had to be indexed here (no ``.cdxj`` beside it).
    """
    name = warc.rsplit("/", 1)[-1]
    index = cdxj_key(warc)
    if not storage.exists(index):
        with storage.open(warc) as stream:
            _write_sorted_index((_with_filename(x, name) for x in index_warc(stream, name)), dest)
        return True
    ordered = True
    previous: IndexLine | None = None
    with storage.open(index) as raw, dest.open("w", encoding="utf-8") as out:
        for data in _lines(raw):
            if not data.strip():
                continue
            line = _with_filename(IndexLine.parse(data.decode("utf-8")), name)
            if previous is not None and line < previous:
                ordered = False
            previous = line
            out.write(line.to_text() + "\n")
    if not ordered:  # written by another tool: sort this one file in memory
        with dest.open(encoding="utf-8") as fh:
            staged = [IndexLine.parse(t) for t in fh if t.strip()]
        _write_sorted_index(staged, dest)
    return False


def _read_index(path: Path) -> Iterator[IndexLine]:
    with path.open(encoding="utf-8") as fh:
        for text in fh:
            yield IndexLine.parse(text)


def _merge_indexes(parts: list[Path], dest: Path) -> int:
    """Merge sorted index files into ``dest``; return the number of lines."""
    count = 0
    with dest.open("w", encoding="utf-8") as out:
        for line in heapq.merge(*(_read_index(p) for p in parts)):
            out.write(line.to_text() + "\n")
            count += 1
    return count


def _article_keys(storage: Storage, warc_keys: list[str], listed: Iterable[str]) -> list[str]:
    """Return the article batches that can point into these WARC files."""
    days: set[dt.date] = set()
    for key in warc_keys:
        day = _day_of(key)
        if day is not None:
            # A batch is filed under the day it opened; a WARC file under the day it opened
            # and may run past midnight: records of a day's captures sit in batches of the
            # day before, the day itself, or the day after.
            days.update(day + dt.timedelta(days=n) for n in (-1, 0, 1))
    keys: set[str] = set()
    for day in sorted(days):
        keys.update(k for k in storage.list(f"articles/{day:%Y/%m/%d}/") if k.endswith(".jsonl.gz"))
    # Batches the manifest lists elsewhere, if they are stored (a pending one is not, yet).
    keys.update(k for k in listed if k not in keys and storage.exists(k))
    return sorted(keys)


def _articles(storage: Storage, key: str) -> Iterator[dict[str, Any]]:
    with storage.open(key) as raw, gzip.GzipFile(fileobj=raw) as data:
        for text in io.TextIOWrapper(data, encoding="utf-8"):
            if text.strip():
                yield json.loads(text)


def _write_pages(storage: Storage, batches: list[str], filenames: set[str], dest: Path) -> int:
    """Write ``pages.jsonl`` for the article records pointing into ``filenames``."""
    seen: set[tuple[str, str]] = set()
    count = 0
    with dest.open("w", encoding="utf-8") as out:
        out.write(json.dumps(PAGES_HEADER) + "\n")
        for key in batches:
            for record in _articles(storage, key):
                pointer = record.get("warc") or {}
                filename = pointer.get("filename")
                if filename not in filenames or not record.get("url"):
                    continue
                record_id = str(pointer.get("record_id") or "")
                # One page per archived response, even if a batch was written twice.
                capture = (filename, record_id or f"{pointer.get('offset')} {record['url']}")
                if capture in seen:
                    continue
                seen.add(capture)
                page = {
                    "id": record_id.removeprefix("<urn:uuid:").removesuffix(">")
                    or uuid.uuid4().hex,
                    "url": record["url"],
                    "ts": pointer.get("date") or record.get("fetched_at"),
                    "title": record.get("title") or "",
                    "text": record.get("text") or "",
                }
                out.write(json.dumps(page, ensure_ascii=False) + "\n")
                count += 1
    return count


def _resource_name(path: str) -> str:
    return _RESOURCE_NAME.sub("-", path.rsplit("/", 1)[-1].lower())


def _zip_info(path: str, size: int, *, compress: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(path, dt.datetime.now(dt.UTC).timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.file_size = size  # lets zipfile choose ZIP64 up front for files above 2 GiB
    return info


def _add(
    wacz: zipfile.ZipFile, path: str, src: IO[bytes], size: int, *, compress: bool
) -> dict[str, Any]:
    """Stream ``src`` into the package as ``path``; return its ``datapackage.json`` resource."""
    with wacz.open(_zip_info(path, size, compress=compress), "w") as entry:
        out = _Hashing(entry)
        shutil.copyfileobj(src, out, _CHUNK)
    if out.size != size:
        raise OSError(f"{path}: copied {out.size} bytes, expected {size}")
    return {
        "name": _resource_name(path),
        "path": path,
        "hash": f"sha256:{out.sha256.hexdigest()}",
        "bytes": out.size,
    }


def _add_local(wacz: zipfile.ZipFile, path: str, local: Path) -> dict[str, Any]:
    with local.open("rb") as src:
        return _add(wacz, path, src, local.stat().st_size, compress=True)


def write_wacz(
    storage: Storage,
    out_path: str | os.PathLike[str],
    *,
    date: dt.date | None = None,
    crawl_id: str | None = None,
) -> WaczSummary:
    """Package one day's or one crawl's WARC files as a WACZ 1.1.1 file.

    The package holds ``archive/`` (the WARC files, stored uncompressed), ``indexes/index.cdx``
    (the CDXJ indexes beside those files, merged and sorted), ``pages/pages.jsonl`` (one page
    per article record extracted from them, with its title and text), ``datapackage.json`` and
    ``datapackage-digest.json``. Files are streamed from the storage, never read whole; the
    WACZ appears under ``out_path`` only when complete.

    Args:
        storage: The archive.
        out_path: The local ``.wacz`` file to write (replaced if it exists).
        date: Package the WARC files under ``warc/YYYY/MM/DD/`` of this (UTC) day.
        crawl_id: Package the WARC files listed in ``crawls/<crawl_id>.json``.

    Returns:
        What was packaged; ``summary.written`` is false, and nothing is written, when no WARC
        file matched.

    Raises:
        ValueError: neither or both of ``date`` and ``crawl_id`` given, or a malformed id.
        LookupError: the crawl has no manifest in the archive.

    """
    if (date is None) == (crawl_id is None):
        raise ValueError("give exactly one of date and crawl_id")
    listed: list[str] = []
    if crawl_id is not None:
        summary = WaczSummary(selection=f"crawl {crawl_id}")
        warcs, summary.missing, listed = _crawl_warcs(storage, crawl_id)
    else:
        assert date is not None
        summary = WaczSummary(selection=f"day {date.isoformat()}")
        warcs = _day_warcs(storage, date)
    if not warcs:
        return summary
    names = [k.rsplit("/", 1)[-1] for k in warcs]
    if len(set(names)) != len(names):
        raise ValueError(f"two WARC files share a name in {summary.selection}: {names}")

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{uuid.uuid4().hex}.part")
    try:
        with (
            tempfile.TemporaryDirectory(prefix="newswarc-wacz-") as tmp_name,
            zipfile.ZipFile(partial, "w", allowZip64=True) as wacz,
        ):
            tmp = Path(tmp_name)
            resources = []
            parts = []
            for n, (key, name) in enumerate(zip(warcs, names, strict=True)):
                size = storage.size(key)
                with storage.open(key) as src:
                    resources.append(_add(wacz, f"archive/{name}", src, size, compress=False))
                summary.warc_bytes += size
                part = tmp / f"{n:06d}.cdxj"
                if _stage_index(storage, key, part):
                    summary.reindexed.append(key)
                parts.append(part)
            summary.warc_files = list(warcs)

            merged = tmp / "index.cdx"
            summary.index_lines = _merge_indexes(parts, merged)
            resources.append(_add_local(wacz, INDEX_PATH, merged))

            pages = tmp / "pages.jsonl"
            batches = _article_keys(storage, warcs, listed)
            summary.pages = _write_pages(storage, batches, set(names), pages)
            resources.append(_add_local(wacz, PAGES_PATH, pages))

            package = {
                "profile": "data-package",
                "wacz_version": WACZ_VERSION,
                "title": f"newswarc {summary.selection}",
                "resources": resources,
                "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "software": f"newswarc {__version__}",
            }
            package_bytes = json.dumps(package, indent=2).encode("utf-8")
            digest = {
                "path": "datapackage.json",
                "hash": f"sha256:{hashlib.sha256(package_bytes).hexdigest()}",
            }
            wacz.writestr(
                _zip_info("datapackage.json", len(package_bytes), compress=True), package_bytes
            )
            digest_bytes = json.dumps(digest, indent=2).encode("utf-8")
            wacz.writestr(
                _zip_info("datapackage-digest.json", len(digest_bytes), compress=True),
                digest_bytes,
            )
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    summary.path = out
    summary.size = out.stat().st_size
    return summary


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def cmd_wacz(args: argparse.Namespace) -> int:
    """Write a WACZ file of one day or one crawl; return 0, or 1 when nothing matched."""
    storage = storage_from_uri(args.archive)
    try:
        summary = write_wacz(storage, args.output, date=args.date, crawl_id=args.crawl)
    except (LookupError, ValueError) as exc:
        print(f"newswarc wacz: {exc}", file=sys.stderr)
        return 1
    print(summary.format(), file=sys.stdout if summary.written else sys.stderr)
    return 0 if summary.written else 1


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``wacz`` subcommand to the ``newswarc`` command's subparsers; return it."""
    parser = subparsers.add_parser(
        "wacz", help="package the WARC files of one day or one crawl as a WACZ file"
    )
    parser.add_argument("archive", help="archive URI: folder, file:// or s3://bucket/prefix")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--date", type=_day, help="the WARC files of this UTC day (YYYY-MM-DD)")
    which.add_argument("--crawl", metavar="ID", help="the WARC files of this crawl")
    parser.add_argument("-o", "--output", required=True, metavar="FILE.wacz", help="output")
    parser.set_defaults(func=cmd_wacz)
    return parser
