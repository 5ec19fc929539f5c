"""Check an archive: WARC files and digests, CDXJ indexes, article pointers, manifests."""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import sys
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, TYPE_CHECKING, Any, Protocol, TypeVar

from pipelines.cdxj import INDEXED, IndexLine, cdxj_key, surt_key, warc_timestamp
from pipelines.reader import warc_key
from pipelines.storage import Storage, StorageError, storage_from_uri

if TYPE_CHECKING:
    from collections.abc import Callable

#: Compressed bytes read from a file at a time.
_CHUNK = 1024 * 1024
#: Most decompressed bytes one zlib call may return: a small member can expand enormously.
_OUT = 1024 * 1024
#: Compressed bytes kept behind the read position, to find the next member after damage.
_LOOKBACK = 4 * 1024 * 1024
#: A WARC header longer than this is taken for garbage rather than buffered.
_MAX_HEADER = 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b\x08"
_WBITS_GZIP = zlib.MAX_WBITS + 16

_DAY_KEY = re.compile(r"^(?:warc|articles)/(\d{4})/(\d{2})/(\d{2})/")
_CRAWL_KEY = re.compile(r"^crawls/(\d{4})(\d{2})(\d{2})T[^/]*\.json$")
_HTTP_RECORDS = frozenset({"response", "request", "revisit"})
_MANDATORY = ("warc-record-id", "warc-date", "warc-type")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the archive.

    ``key`` and ``offset`` locate the damage: the file that holds the wrong or missing data, and
    the byte offset in it where the faulty gzip member, index line or article record starts
    (``None`` when the whole file is concerned, as for a missing file).

    Attributes:
        kind: ``gzip`` (damaged member), ``truncated`` (file ends inside a member), ``record``
            (a member is not exactly one well-formed WARC record), ``digest``, ``index``,
            ``article``, ``manifest``, ``read`` (the storage failed) or ``archive``.
        key: Archive key of the file concerned.
        offset: Byte offset in that file, or ``None``.
        message: What is wrong, on one line.

    """

    kind: str
    key: str
    offset: int | None
    message: str

    def __str__(self) -> str:
        where = "-" if self.offset is None else str(self.offset)
        return f"{self.kind:<9} {self.key} @ {where}: {self.message}"


@dataclass
class Report:
    """The outcome of :func:`verify_archive`: problems found, and counts of what was checked."""

    problems: list[Problem] = field(default_factory=list)
    since: date | None = None
    warc_files: int = 0
    warc_records: int = 0
    warc_bytes: int = 0
    index_files: int = 0
    index_lines: int = 0
    article_batches: int = 0
    articles: int = 0
    manifests: int = 0
    manifest_files: int = 0

    @property
    def ok(self) -> bool:
        """Whether no problem was found."""
        return not self.problems

    def add(self, kind: str, key: str, offset: int | None, message: str) -> None:
        """Record a problem (the message is flattened to one line)."""
        self.problems.append(Problem(kind, key, offset, " ".join(message.split())))

    def totals(self) -> list[str]:
        """Return the counts as readable lines."""
        scope = f" (days from {self.since.isoformat()})" if self.since else ""
        return [
            f"checked{scope}:",
            f"  WARC files:      {self.warc_files} "
            f"({self.warc_records} records, {self.warc_bytes} bytes)",
            f"  indexes:         {self.index_files} ({self.index_lines} lines)",
            f"  article batches: {self.article_batches} ({self.articles} articles)",
            f"  manifests:       {self.manifests} ({self.manifest_files} stored files)",
            f"problems:          {len(self.problems) or 'none'}",
        ]


def _oneline(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# --- digests ---------------------------------------------------------------------------------


def _hasher(digest: str) -> Any:
    """Return a fresh hash object for a ``WARC-*-Digest`` value (``sha1:BASE32``)."""
    algo, sep, _ = digest.partition(":")
    if not sep:
        raise ValueError(f"no algorithm in digest {digest!r}")
    return hashlib.new(algo.strip().lower().replace("-", ""))


def _digest_text(digest: str, hasher: Any) -> str:
    algo = digest.partition(":")[0]
    return f"{algo}:{base64.b32encode(hasher.digest()).decode('ascii')}"


def _digest_matches(digest: str, hasher: Any) -> bool:
    """Compare a digest header with a hash, in any RFC 3548 encoding (as warcio accepts)."""
    value = digest.partition(":")[2].strip()
    raw = hasher.digest()
    if value.upper() == base64.b32encode(raw).decode("ascii"):
        return True
    if value.lower() == raw.hex():
        return True
    try:
        altchars = b"-_" if "-" in value or "_" in value else None
        return base64.b64decode(value, altchars=altchars, validate=True) == raw
    except (binascii.Error, ValueError):
        return False


# --- one WARC record, fed as it is decompressed -----------------------------------------------


class _RecordCheck:
    """Checks that the content of one gzip member is exactly one WARC record with right digests.

    The content is fed in pieces as it is decompressed and never kept: only the WARC header is
    buffered, so a record of any size is checked in constant memory.
    """

    def __init__(self, *, digests: bool = True) -> None:
        self.digests = digests
        self.state = "header"
        self.head = bytearray()
        self.headers: dict[str, str] = {}
        self.errors: list[tuple[str, str]] = []
        self.remaining = 0
        self.block_digest: str | None = None
        self.payload_digest: str | None = None
        self.block_hash: Any = None
        self.payload_hash: Any = None
        # HTTP headers in the block come before the payload; the payload starts after the first
        # blank line, as warcio's parser decides.
        self.in_http_headers = False
        self.line_blank = True
        self.tail = b""

    @property
    def rec_type(self) -> str:
        return self.headers.get("warc-type", "")

    def describe(self) -> str:
        record_id = self.headers.get("warc-record-id", "?")
        return f"{self.rec_type or '?'} record {record_id}"

    def plausible(self) -> bool:
        """Whether the content so far looks like a WARC record (used to resynchronise)."""
        return bytes(self.head[:5]) == b"WARC/" or bool(self.headers)

    def _fail(self, kind: str, message: str) -> None:
        self.errors.append((kind, message))
        self.state = "failed"

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        while view and self.state != "failed":
            if self.state == "header":
                view = self._feed_header(view)
            elif self.state == "block":
                view = self._feed_block(view)
            elif self.state == "tail":
                need = 4 - len(self.tail)
                self.tail += bytes(view[:need])
                view = view[need:]
                if len(self.tail) == 4:
                    if self.tail != b"\r\n\r\n":
                        self._fail("record", f"{self.describe()} is not ended by CRLF CRLF")
                        return
                    self.state = "done"
            else:  # done: anything more is a second record or garbage in the same member
                what = (
                    "a second WARC record"
                    if bytes(view[:5]) == b"WARC/"
                    else "bytes after its WARC record"
                )
                self._fail("record", f"gzip member holds {what} (after {self.describe()})")
                return

    def _feed_header(self, view: memoryview) -> memoryview:
        searched = max(0, len(self.head) - 3)
        self.head += view
        end = self.head.find(b"\r\n\r\n", searched)
        if len(self.head) >= 5 and not self.head.startswith(b"WARC/"):
            self._fail("record", "gzip member does not hold a WARC record")
            return memoryview(b"")
        if end < 0:
            if len(self.head) > _MAX_HEADER:
                self._fail("record", f"WARC header runs past {_MAX_HEADER} bytes")
            return memoryview(b"")
        rest = bytes(self.head[end + 4 :])
        self._parse_header(bytes(self.head[:end]))
        del self.head[end + 4 :]
        return memoryview(rest)

    def _parse_header(self, raw: bytes) -> None:
        lines = raw.decode("utf-8", "replace").split("\r\n")
        name = ""
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and name:
                self.headers[name] += " " + line.strip()
                continue
            name, sep, value = line.partition(":")
            name = name.strip().lower()
            if not sep or not name:
                self._fail("record", f"malformed WARC header line {line[:80]!r}")
                return
            self.headers[name] = value.strip()
        missing = [h for h in ("content-length", *_MANDATORY) if h not in self.headers]
        if missing:
            self._fail("record", f"{self.describe()} lacks {', '.join(missing)}")
            return
        try:
            self.remaining = int(self.headers["content-length"])
            if self.remaining < 0:
                raise ValueError
        except ValueError:
            self._fail("record", f"{self.describe()} has a bad Content-Length")
            return
        self.state = "block"
        if not self.digests:
            return
        self.block_digest = self.headers.get("warc-block-digest") or None
        self.payload_digest = self.headers.get("warc-payload-digest") or None
        if self.rec_type == "revisit" or "warc-segment-number" in self.headers:
            # A revisit's payload digest is the original capture's; a segment's covers the
            # whole of the segmented payload.
            self.payload_digest = None
        try:
            self.block_hash = _hasher(self.block_digest) if self.block_digest else None
            self.payload_hash = _hasher(self.payload_digest) if self.payload_digest else None
        except ValueError as exc:
            self.errors.append(("digest", f"{self.describe()}: {exc}"))
            self.block_hash = self.payload_hash = None
        uri = self.headers.get("warc-target-uri", "")
        self.in_http_headers = (
            self.rec_type in _HTTP_RECORDS
            and uri.startswith(("http:", "https:"))
            and self.remaining > 0
        )
        if self.remaining == 0:
            self._end_block()

    def _feed_block(self, view: memoryview) -> memoryview:
        take = view[: self.remaining]
        if self.block_hash is not None:
            self.block_hash.update(take)
        if self.payload_hash is not None:
            payload = take
            if self.in_http_headers:
                start = self._http_headers_end(take)
                payload = take[start:] if start is not None else memoryview(b"")
            self.payload_hash.update(payload)
        self.remaining -= len(take)
        if self.remaining == 0:
            self._end_block()
        return view[len(take) :]

    def _http_headers_end(self, data: memoryview) -> int | None:
        """Return where the payload starts in ``data``, or None if the headers go on."""
        raw = bytes(data)
        pos = 0
        while True:
            newline = raw.find(b"\n", pos)
            piece = raw[pos : newline if newline >= 0 else len(raw)]
            if piece.strip():
                self.line_blank = False
            if newline < 0:
                return None
            if self.line_blank:
                self.in_http_headers = False
                return newline + 1
            self.line_blank = True
            pos = newline + 1

    def _end_block(self) -> None:
        self.state = "tail"
        checks = (
            ("WARC-Block-Digest", self.block_digest, self.block_hash),
            ("WARC-Payload-Digest", self.payload_digest, self.payload_hash),
        )
        for header, expected, hasher in checks:
            if expected and hasher is not None and not _digest_matches(expected, hasher):
                self.errors.append(
                    (
                        "digest",
                        f"{self.describe()}: {header} {expected} does not match its content "
                        f"({_digest_text(expected, hasher)})",
                    )
                )

    def finish(self) -> None:
        """Note a record the member ended before completing."""
        if self.state == "header":
            what = "an incomplete WARC header" if self.head else "nothing"
            self._fail("record", f"gzip member holds {what}")
        elif self.state == "block":
            self._fail(
                "record",
                f"{self.describe()} is cut short: its member ends {self.remaining} bytes "
                "before the end of its Content-Length",
            )
        elif self.state == "tail":
            self._fail("record", f"{self.describe()} is not ended by CRLF CRLF")


class _Lines:
    """Collects the JSON lines of one gzip member of an article batch."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.lines: list[bytes] = []

    def feed(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.rfind(b"\n")
        if end >= 0:
            self.lines.extend(bytes(self.buf[:end]).split(b"\n"))
            del self.buf[: end + 1]

    def plausible(self) -> bool:
        first = bytes(self.buf[:1]) or (self.lines[0][:1] if self.lines else b"")
        return first == b"{"

    def finish(self) -> None:
        """Nothing to close: a line without its newline is reported by the caller."""


class _Consumer(Protocol):
    def feed(self, data: bytes) -> None: ...

    def plausible(self) -> bool: ...

    def finish(self) -> None: ...


_ConsumerT = TypeVar("_ConsumerT", bound=_Consumer)


# --- a file as a sequence of gzip members, streamed -------------------------------------------


class _Window:
    """A file read front to back, keeping a bounded span of it for going back after damage."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.buf = bytearray()
        self.start = 0
        self.eof = False

    @property
    def end(self) -> int:
        return self.start + len(self.buf)

    def _fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.fh.read(_CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def get(self, offset: int, size: int) -> bytes:
        """Return up to ``size`` bytes from ``offset`` (which must not be forgotten yet)."""
        while self.end < offset + size and self._fill():
            pass
        lo = offset - self.start
        return bytes(self.buf[lo : lo + size])

    def forget_before(self, offset: int) -> None:
        if offset > self.start:
            del self.buf[: offset - self.start]
            self.start = offset

    def find(self, needle: bytes, offset: int) -> int | None:
        """Return the offset of the next ``needle`` at or after ``offset``, reading on."""
        while True:
            lo = max(offset, self.start) - self.start
            found = self.buf.find(needle, lo)
            if found >= 0:
                return self.start + found
            # Keep a needle's length less one, for a match across the next chunk's start.
            self.forget_before(max(self.start, self.end - len(needle) + 1))
            if not self._fill():
                return None


@dataclass
class _Outcome:
    status: str  # ok | end (clean end of file) | truncated | damaged
    end: int
    detail: str = ""


def _decode_member(window: _Window, start: int, consumer: _Consumer) -> _Outcome:
    """Decompress the gzip member at ``start``, feeding its content to ``consumer``."""
    z = zlib.decompressobj(_WBITS_GZIP)
    pos = start
    while True:
        data = window.get(pos, _CHUNK)
        if not data:
            return _Outcome("end" if pos == start else "truncated", pos)
        try:
            consumer.feed(z.decompress(data, _OUT))
            while not z.eof and z.unconsumed_tail:
                consumer.feed(z.decompress(z.unconsumed_tail, _OUT))
        except zlib.error as exc:
            return _Outcome("damaged", pos, str(exc))
        if z.eof:
            return _Outcome("ok", pos + len(data) - len(z.unused_data))
        pos += len(data)
        window.forget_before(max(start, pos - _LOOKBACK))


def _members(
    window: _Window, key: str, make: Callable[[], _ConsumerT], report: Report
) -> Iterator[tuple[int, _ConsumerT]]:
    """Yield (offset, consumer) for each intact gzip member; report damage and truncation.

    After a damaged member the file is searched for the next gzip header that starts an intact
    member of the same kind, so one bad record does not hide the rest of the file.
    """
    pos = 0
    damaged: tuple[int, str] | None = None  # start and cause of the damage being skipped
    while True:
        consumer = make()
        outcome = _decode_member(window, pos, consumer)
        if damaged is not None:
            if outcome.status == "ok" and consumer.plausible():
                report.add(
                    "gzip",
                    key,
                    damaged[0],
                    f"damaged gzip member ({damaged[1]}); {pos - damaged[0]} bytes skipped "
                    f"to the next intact member at {pos}",
                )
                damaged = None
            else:
                found = window.find(_GZIP_MAGIC, pos + 1)
                if found is None:
                    report.add(
                        "gzip",
                        key,
                        damaged[0],
                        f"damaged gzip member ({damaged[1]}); no intact member after it",
                    )
                    return
                pos = found
                continue
        if outcome.status == "ok":
            consumer.finish()
            yield pos, consumer
            pos = outcome.end
            window.forget_before(pos)
        elif outcome.status == "end":
            return
        elif outcome.status == "truncated":
            report.add(
                "truncated",
                key,
                pos,
                f"file ends {outcome.end - pos} bytes into the gzip member starting here",
            )
            return
        else:
            damaged = (pos, outcome.detail)
            found = window.find(_GZIP_MAGIC, pos + 1)
            if found is None:
                report.add("gzip", key, pos, f"damaged gzip member ({outcome.detail})")
                return
            pos = found


def _lines(fh: IO[bytes]) -> Iterator[bytes]:
    """Yield the lines of a stream, newline kept (an S3 body iterates by chunks, not lines)."""
    rest = b""
    while chunk := fh.read(_CHUNK):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            yield line + b"\n"
    if rest:
        yield rest


def _read_record(storage: Storage, key: str, offset: Any, length: Any) -> _RecordCheck | str:
    """Read one record with a ranged read; return its check, or why it does not resolve."""
    if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length <= 0:
        return f"bad offset {offset!r} or length {length!r}"
    try:
        data = storage.read_range(key, offset, length)
    except Exception as exc:  # any storage failure is a pointer that does not resolve
        return f"cannot read {key}: {_oneline(exc)}"
    if len(data) < length:
        return f"{key} ends {length - len(data)} bytes before offset + length"
    check = _RecordCheck(digests=False)  # the WARC pass checks digests, once per record
    z = zlib.decompressobj(_WBITS_GZIP)
    try:
        check.feed(z.decompress(data, _OUT))
        while not z.eof and z.unconsumed_tail:
            check.feed(z.decompress(z.unconsumed_tail, _OUT))
    except zlib.error as exc:
        return f"no whole gzip member there ({exc})"
    if not z.eof:
        return "the range ends inside a gzip member"
    if z.unused_data:
        return f"the range runs {len(z.unused_data)} bytes past the end of its gzip member"
    check.finish()
    if check.errors:
        return check.errors[0][1]
    return check


# --- the four checks --------------------------------------------------------------------------


def _day(key: str) -> date | None:
    match = _DAY_KEY.match(key) or _CRAWL_KEY.match(key)
    if not match:
        return None
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def _wanted(key: str, since: date | None) -> bool:
    day = _day(key)
    return since is None or day is None or day >= since


def _check_warc(storage: Storage, key: str, report: Report) -> tuple[int, bool]:
    """Stream one WARC file; return its response/revisit count and whether it was intact."""
    report.warc_files += 1
    before = len(report.problems)
    indexed = records = 0
    with storage.open(key) as fh:
        window = _Window(fh)
        for offset, check in _members(window, key, _RecordCheck, report):
            records += 1
            for kind, message in check.errors:
                report.add(kind, key, offset, message)
            if check.rec_type in INDEXED:
                indexed += 1
    report.warc_records += records
    report.warc_bytes += window.end
    intact = len(report.problems) == before
    if intact and records == 0:
        report.add("record", key, None, "file holds no WARC record")
        intact = False
    return indexed, intact


def _check_index(
    storage: Storage, key: str, warc: str, records: int | None, report: Report
) -> None:
    """Resolve every line of the index ``key`` of the WARC file ``warc``."""
    report.index_files += 1
    filename = warc.rpartition("/")[2]
    lines = 0
    offset = 0
    previous: tuple[str, str] | None = None
    with storage.open(key) as fh:
        for number, raw in enumerate(_lines(fh), 1):
            where = offset
            offset += len(raw)
            if not raw.strip():
                continue
            lines += 1
            report.index_lines += 1
            try:
                line = IndexLine.parse(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                report.add("index", key, where, f"line {number} is not a CDXJ line: {exc}")
                continue
            if previous is not None and (line.key, line.timestamp) < previous:
                # pywb finds captures by binary search: an unsorted index hides some.
                report.add("index", key, where, f"line {number} is out of order")
            previous = (line.key, line.timestamp)
            problem = _index_line_problem(storage, line, filename, warc)
            if problem:
                report.add("index", key, where, f"line {number}: {problem}")
    if records is not None and lines != records:
        report.add(
            "index",
            key,
            None,
            f"index has {lines} lines, {warc} holds {records} response/revisit records",
        )


def _merged_day(key: str) -> date | None:
    match = re.match(r"^indexes/(\d{4})/(\d{2})/(\d{2})\.cdxj$", key)
    return date(*(int(g) for g in match.groups())) if match else None


def _check_day_index(storage: Storage, key: str, report: Report) -> None:
    """Resolve every line of a day's merged index, whatever WARC file it names."""
    report.index_files += 1
    offset = 0
    previous: tuple[str, str] | None = None
    with storage.open(key) as fh:
        for number, raw in enumerate(_lines(fh), 1):
            where = offset
            offset += len(raw)
            if not raw.strip():
                continue
            report.index_lines += 1
            try:
                line = IndexLine.parse(raw.decode("utf-8"))
                warc = warc_key(line.data.get("filename", ""))
            except (ValueError, UnicodeDecodeError) as exc:
                report.add("index", key, where, f"line {number} is not a CDXJ line: {exc}")
                continue
            if previous is not None and (line.key, line.timestamp) < previous:
                report.add("index", key, where, f"line {number} is out of order")
            previous = (line.key, line.timestamp)
            problem = _index_line_problem(storage, line, line.data["filename"], warc)
            if problem:
                report.add("index", key, where, f"line {number}: {problem}")


def _index_line_problem(storage: Storage, line: IndexLine, filename: str, warc: str) -> str:
    data = line.data
    url = data.get("url", "")
    if data.get("filename") != filename:
        return f"{url} names file {data.get('filename')!r}, not {filename}"
    try:
        offset, length = int(data["offset"]), int(data["length"])
    except (KeyError, ValueError):
        return f"{url} has no valid offset and length"
    where = f"{url} at offset {offset} length {length}"
    record = _read_record(storage, warc, offset, length)
    if isinstance(record, str):
        return f"{where}: {record}"
    headers = record.headers
    if record.rec_type not in INDEXED:
        return f"{where}: a {record.rec_type} record, not a response or revisit"
    if headers.get("warc-target-uri") != url:
        return f"{where}: a record of {headers.get('warc-target-uri')}"
    digest = headers.get("warc-payload-digest")
    if "digest" in data and digest != data["digest"]:
        return f"{where}: payload digest {digest}, not {data['digest']}"
    if line.key != surt_key(url):
        return f"{where}: key {line.key!r}, not {surt_key(url)!r}"
    if line.timestamp != warc_timestamp(headers.get("warc-date", "")):
        return f"{where}: captured {headers.get('warc-date')}, not at {line.timestamp}"
    return ""


def _check_warc_folder(storage: Storage, keys: list[str], report: Report) -> None:
    """Check the WARC files of one folder and the indexes beside them."""
    present = set(keys)
    warcs = [k for k in keys if k.endswith(".warc.gz")]
    for key in warcs:
        try:
            records, intact = _check_warc(storage, key, report)
        except Exception as exc:  # a storage failure ends this file's check, not the run
            report.add("read", key, None, f"cannot read: {_oneline(exc)}")
            records, intact = 0, False
        index = cdxj_key(key)
        if index not in present:
            report.add("index", index, None, f"index of {key} is missing")
            continue
        try:
            # A count only means something against a WARC file read to its end undamaged.
            _check_index(storage, index, key, records if intact else None, report)
        except Exception as exc:
            report.add("read", index, None, f"cannot read: {_oneline(exc)}")
    indexed = {cdxj_key(k) for k in warcs}
    for key in keys:
        if key.endswith(".cdxj") and key not in indexed:
            report.add("index", key, None, "index of a WARC file that is not in the archive")


def _check_warcs(storage: Storage, keys: Iterable[str], report: Report) -> None:
    # Keys come in lexical order, so a folder's files are one run of keys (subfolders aside,
    # which the layout does not have): only one day's names are held at a time.
    folder: str | None = None
    group: list[str] = []
    for key in keys:
        this = key.rpartition("/")[0]
        if this != folder and group:
            _check_warc_folder(storage, group, report)
            group = []
        folder = this
        group.append(key)
    if group:
        _check_warc_folder(storage, group, report)


def _check_batch(storage: Storage, key: str, report: Report) -> None:
    """Stream one article batch and resolve every record's ``warc`` pointer."""
    report.article_batches += 1
    with storage.open(key) as fh:
        for offset, lines in _members(_Window(fh), key, _Lines, report):
            if lines.buf:
                report.add("article", key, offset, "gzip member does not end at a line end")
            for line in lines.lines:
                if not line.strip():
                    continue
                report.articles += 1
                problem = _article_problem(storage, line)
                if problem:
                    report.add("article", key, offset, problem)


def _article_problem(storage: Storage, line: bytes) -> str:
    try:
        record = json.loads(line)
    except ValueError as exc:
        return f"line is not JSON: {exc}"
    if not isinstance(record, dict):
        return "line is not a JSON object"
    url = record.get("url")
    pointer = record.get("warc")
    if not isinstance(pointer, dict):
        return f"{url}: no warc pointer"
    offset, length = pointer.get("offset"), pointer.get("length")
    where = f"{url}: warc {pointer.get('filename')} offset {offset} length {length}"
    try:
        key = warc_key(str(pointer.get("filename")))
    except ValueError as exc:
        return f"{where}: {exc}"
    found = _read_record(storage, key, offset, length)
    if isinstance(found, str):
        return f"{where}: {found}"
    headers = found.headers
    if found.rec_type != "response":
        return f"{where}: a {found.rec_type} record, not a response"
    if headers.get("warc-record-id") != pointer.get("record_id"):
        return f"{where}: record {headers.get('warc-record-id')}, not {pointer.get('record_id')}"
    if headers.get("warc-target-uri") != url:
        return f"{where}: a record of {headers.get('warc-target-uri')}"
    if headers.get("warc-payload-digest") != pointer.get("payload_digest"):
        return (
            f"{where}: payload digest {headers.get('warc-payload-digest')}, "
            f"not {pointer.get('payload_digest')}"
        )
    return ""


def _check_manifest(storage: Storage, key: str, report: Report) -> None:
    """Check that every file a manifest lists as stored is there, with its listed size."""
    report.manifests += 1
    with storage.open(key) as fh:
        raw = fh.read()
    try:
        files = json.loads(raw)["files"]
        if not isinstance(files, list):
            raise TypeError("'files' is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        report.add("manifest", key, None, f"unreadable manifest: {_oneline(exc)}")
        return
    for entry in files:
        if not isinstance(entry, dict) or entry.get("status") != "stored":
            continue
        report.manifest_files += 1
        name, size = entry.get("key"), entry.get("bytes")
        if not isinstance(name, str) or not isinstance(size, int):
            report.add("manifest", key, None, f"bad file entry {json.dumps(entry)[:200]}")
            continue
        try:
            if not storage.exists(name):
                report.add("manifest", name, None, f"listed as stored in {key} but missing")
                continue
            actual = storage.size(name)
        except Exception as exc:
            report.add("read", name, None, f"listed in {key}, cannot check: {_oneline(exc)}")
            continue
        if actual != size:
            report.add(
                "manifest", name, None, f"{key} lists {size} bytes, the archive has {actual}"
            )


def _listed(storage: Storage, prefix: str) -> Iterator[str]:
    try:
        yield from storage.list(prefix)
    except StorageError:
        raise
    except Exception as exc:  # boto3 errors and OSErrors alike: the archive is unreachable
        raise StorageError(f"cannot list {storage.uri}: {_oneline(exc)}") from exc


def verify_archive(storage: Storage, *, since: date | None = None) -> Report:
    """Check an archive and name every problem with its file key and byte offset.

    Every file is streamed or read by ranges, so memory stays flat whatever the archive's size:

    1. every WARC file is a sequence of complete gzip members, each exactly one WARC record
       whose ``WARC-Block-Digest`` and ``WARC-Payload-Digest`` match its content;
    2. every WARC file has its CDXJ index, and every index line resolves (a ranged read) to a
       response or revisit record of that URL, payload digest and time; so does every line of
       the merged day indexes (``indexes/YYYY/MM/DD.cdxj``), which must be sorted;
    3. every article record's ``warc`` pointer resolves (a ranged read) to the response record
       with that record id, URL and payload digest;
    4. every file a manifest lists as stored exists, with the listed size.

    A storage failure on one file is reported as a ``read`` problem and the check goes on.

    Args:
        storage: The archive.
        since: Only files of this day or later: WARC files, indexes and article batches by the
            day folder they are filed under, manifests by the start day in their crawl id
            (files they list are checked whatever their day).

    Returns:
        The problems found and the counts of what was checked.

    Raises:
        StorageError: the archive cannot be listed at all.

    """
    if isinstance(since, datetime):
        since = since.date()
    report = Report(since=since)
    _check_warcs(
        storage,
        (
            key
            for key in _listed(storage, "warc/")
            if key.endswith((".warc.gz", ".cdxj")) and _wanted(key, since)
        ),
        report,
    )
    for key in _listed(storage, "indexes/"):
        day = _merged_day(key)
        if key.endswith(".cdxj") and day is not None and (since is None or day >= since):
            try:
                _check_day_index(storage, key, report)
            except Exception as exc:
                report.add("read", key, None, f"cannot read: {_oneline(exc)}")
    for key in _listed(storage, "articles/"):
        if key.endswith(".jsonl.gz") and _wanted(key, since):
            try:
                _check_batch(storage, key, report)
            except Exception as exc:
                report.add("read", key, None, f"cannot read: {_oneline(exc)}")
    for key in _listed(storage, "crawls/"):
        if key.endswith(".json") and key.count("/") == 1 and _wanted(key, since):
            try:
                _check_manifest(storage, key, report)
            except Exception as exc:
                report.add("read", key, None, f"cannot read: {_oneline(exc)}")
    if since is None and not (report.warc_files or report.article_batches or report.manifests):
        # Most likely a mistyped path or prefix, which would otherwise pass as a clean archive.
        report.add("archive", "", None, f"no WARC files, articles or manifests in {storage.uri}")
    return report


# --- command line -----------------------------------------------------------------------------


def _day_arg(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def print_report(report: Report, out: IO[str] | None = None) -> None:
    """Print the problems, one a line (kind, key, offset, message), then the totals."""
    out = out or sys.stdout
    for problem in report.problems:
        out.write(f"{problem}\n")
    if report.problems:
        out.write("\n")
    for line in report.totals():
        out.write(line + "\n")


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify the archive named on the command line; 1 if any problem, else 0."""
    report = verify_archive(storage_from_uri(args.archive), since=args.since)
    print_report(report)
    return 0 if report.ok else 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``verify ARCHIVE_URI [--since YYYY-MM-DD]`` to the ``newswarc`` command.

    Args:
        subparsers: What ``ArgumentParser.add_subparsers()`` returned.

    """
    p = subparsers.add_parser(
        "verify",
        help="check WARC files, digests, indexes, article pointers and manifests",
        description="Check an archive; print every problem with its file and byte offset. "
        "Exit code 1 if any problem is found.",
    )
    p.add_argument("archive", help="archive URI: folder, file:// or s3://bucket/prefix")
    p.add_argument(
        "--since",
        type=_day_arg,
        help="only files of this day or later (YYYY-MM-DD; manifests by crawl start day)",
    )
    p.set_defaults(func=cmd_verify)


def main_for_tests(argv: Sequence[str]) -> int:
    """Run ``newswarc ARGV`` with only the ``verify`` subcommand, as ``pipelines.cli`` would."""
    parser = argparse.ArgumentParser(prog="newswarc")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except StorageError as exc:
        print(f"newswarc {args.command}: {exc}", file=sys.stderr)
        return 2
