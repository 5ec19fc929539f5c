"""Archive indexes: build missing CDXJ files, merge them per day, look URLs up by binary search."""

from __future__ import annotations

import heapq
import io
import json
import logging
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.cdxj import IndexLine, cdxj_key, index_warc, surt_key, write_lines
from pipelines.storage import Storage

logger = logging.getLogger(__name__)

_DAY = re.compile(r"^warc/(\d{4})/(\d{2})/(\d{2})/")
_BLOCK = 4096  # bytes read per probe of a binary search (about 15 index lines)


def day_index_key(day: str) -> str:
    """Return the key of a day's merged index (``day`` is ``YYYY/MM/DD``)."""
    return f"indexes/{day}.cdxj"


def _covers_key(day: str) -> str:
    return f"indexes/{day}.files"


@dataclass
class IndexReport:
    """What ``build_indexes`` did."""

    built: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    lines: int = 0


class CountingReads:
    """Counts the bytes a lookup reads, to show it does not scan the archive."""

    def __init__(self) -> None:
        self.bytes = 0
        self.requests = 0


def _store_text(storage: Storage, key: str, write: object, content_type: str) -> None:
    with tempfile.NamedTemporaryFile("wb", delete=False, suffix=".part") as tmp:
        path = Path(tmp.name)
        write(tmp)  # type: ignore[operator]
    try:
        storage.store_file(path, key, content_type=content_type)
    finally:
        path.unlink(missing_ok=True)


def build_indexes(storage: Storage) -> IndexReport:
    """Build the CDXJ index of every WARC file that lacks one, and a merged index per day.

    A day's merged index (``indexes/YYYY/MM/DD.cdxj``) is rebuilt when the set of per-file
    indexes it covers changed (``indexes/YYYY/MM/DD.files`` lists them). Merging streams the
    sorted per-file indexes, so memory stays flat whatever the day's size.
    """
    report = IndexReport()
    keys = set(storage.list("warc/"))
    for key in sorted(k for k in keys if k.endswith(".warc.gz")):
        index = cdxj_key(key)
        if index in keys:
            continue
        filename = key.rsplit("/", 1)[1]

        def write(out: io.BufferedWriter, key: str = key, filename: str = filename) -> None:
            with storage.open(key) as stream:
                report.lines += write_lines(index_warc(stream, filename), out)

        _store_text(storage, index, write, "application/cdxj")
        report.built.append(index)
        keys.add(index)
    days: dict[str, list[str]] = {}
    for key in sorted(k for k in keys if k.endswith(".cdxj")):
        match = _DAY.match(key)
        if match:
            days.setdefault("/".join(match.groups()), []).append(key)
    for day, files in sorted(days.items()):
        covered = _read_covered(storage, day)
        if covered == files and storage.exists(day_index_key(day)):
            continue

        def merge(out: io.BufferedWriter, files: list[str] = files) -> None:
            streams = [storage.open(k) for k in files]
            try:
                lines = (iter(io.TextIOWrapper(s, encoding="utf-8")) for s in streams)
                for line in heapq.merge(*lines):
                    if line.strip():
                        out.write(
                            line.encode("utf-8") if line.endswith("\n") else (line + "\n").encode()
                        )
            finally:
                for s in streams:
                    s.close()

        _store_text(storage, day_index_key(day), merge, "application/cdxj")
        _store_text(
            storage,
            _covers_key(day),
            lambda out, files=files: out.write(json.dumps(files).encode()),
            "application/json",
        )
        report.merged.append(day_index_key(day))
    return report


def _read_covered(storage: Storage, day: str) -> list[str] | None:
    try:
        with storage.open(_covers_key(day)) as fh:
            data = json.loads(fh.read())
    except Exception:
        return None
    return data if isinstance(data, list) else None


def _lines_from(
    storage: Storage, key: str, start: int, size: int, reads: CountingReads
) -> Iterator[str]:
    """Yield whole lines from ``start`` (just after a newline, or 0) to the end, block by block."""
    pos, rest = start, b""
    while pos < size:
        chunk = storage.read_range(key, pos, min(_BLOCK, size - pos))
        reads.bytes += len(chunk)
        reads.requests += 1
        if not chunk:
            break
        pos += len(chunk)
        data = rest + chunk
        *complete, rest = data.split(b"\n")
        for line in complete:
            yield line.decode("utf-8")
    if rest:
        yield rest.decode("utf-8")


def search_sorted(
    storage: Storage,
    key: str,
    target: str,
    *,
    prefix: bool = False,
    reads: CountingReads | None = None,
) -> Iterator[IndexLine]:
    """Yield the lines of a sorted CDXJ object whose SURT key is ``target`` (or starts with it).

    A binary search over byte offsets with ranged reads finds the first candidate, so the bytes
    read grow with the logarithm of the index's size, not with the size itself.
    """
    reads = reads or CountingReads()
    size = storage.size(key)
    lo, hi = 0, size  # the first matching line starts at or after the line that starts at lo
    while hi - lo > _BLOCK:
        mid = (lo + hi) // 2
        block = storage.read_range(key, mid, _BLOCK)
        reads.bytes += len(block)
        reads.requests += 1
        newline = block.find(b"\n")
        if newline < 0 or newline + 1 >= len(block):
            hi = mid
            continue
        line_start = mid + newline + 1
        end = block.find(b" ", newline + 1)
        probe = block[newline + 1 : end if end > 0 else None].decode("utf-8", "replace")
        if probe < target:
            lo = line_start
        else:
            hi = mid
    for text in _lines_from(storage, key, lo, size, reads):
        if not text:
            continue
        line_key = text.split(" ", 1)[0]
        if line_key < target:
            continue
        if line_key == target or (prefix and line_key.startswith(target)):
            yield IndexLine.parse(text)
        else:
            break


def lookup(
    storage: Storage, url: str, *, prefix: bool = False, reads: CountingReads | None = None
) -> list[IndexLine]:
    """Return every capture of ``url`` (or of every URL under it when ``prefix``), oldest first.

    Uses the merged day indexes, and the per-file index of any WARC a day index does not cover
    yet; never reads a WARC file.
    """
    target = surt_key(url)
    if prefix and url.endswith("/") and not target.endswith("/"):
        # SURT drops a path's trailing slash: "/ar/" must not also match "/arabic/".
        target += "/"
    reads = reads or CountingReads()
    indexes = [k for k in storage.list("indexes/") if k.endswith(".cdxj")]
    covered: set[str] = set()
    sources = []
    for key in indexes:
        day = key.removeprefix("indexes/").removesuffix(".cdxj")
        covered.update(_read_covered(storage, day) or [])
        sources.append(key)
    for key in storage.list("warc/"):
        if key.endswith(".cdxj") and key not in covered:
            sources.append(key)
    found: list[IndexLine] = []
    for key in sources:
        found.extend(search_sorted(storage, key, target, prefix=prefix, reads=reads))
    return sorted(set(found), key=lambda line: (line.timestamp, line.key))
