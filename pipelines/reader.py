"""Read an archive back: article records, and the archived HTTP response behind each of them."""

from __future__ import annotations

import calendar
import gzip
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator

from pipelines.cdxj import IndexLine
from pipelines.indexes import CountingReads, lookup
from pipelines.storage import S3Options, Storage, storage_from_uri

_KEY_DATE = re.compile(r"^articles/(\d{4})/(\d{2})/(\d{2})/")
_NAME_STAMP = re.compile(r"-(\d{4})(\d{2})(\d{2})\d{6}-")


class CaptureNotFound(LookupError):
    """No capture of the URL is in the archive."""


@dataclass
class Capture:
    """One archived HTTP response.

    Attributes:
        url: The record's ``WARC-Target-URI``.
        date: The record's ``WARC-Date``.
        status: HTTP status code.
        headers: HTTP headers as archived, in order, repeated names kept.
        raw: The body exactly as the server sent it (still content-encoded).
        body: The body with content encoding and chunking removed.
        record_id: ``WARC-Record-ID``.
        pointer: The article record's ``warc`` field used to find it.

    """

    url: str
    date: str
    status: int
    status_line: str
    headers: list[tuple[str, str]]
    raw: bytes
    body: bytes
    record_id: str
    pointer: dict[str, Any]


def parse_when(value: str | date | datetime | None, *, end: bool = False) -> datetime | None:
    """Parse ``YYYY-MM-DD``, ISO 8601 or a 14-digit WARC timestamp to an aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        value = value.isoformat()
    text = str(value).strip()
    if re.fullmatch(r"\d{4,14}", text):
        # A WARC-style prefix: "2026" is the whole year, "202602" all of February.
        year = int(text[:4])
        month = int(text[4:6] or (12 if end else 1))
        last = calendar.monthrange(year, month)[1]
        day = int(text[6:8] or (last if end else 1))
        hour = int(text[8:10] or (23 if end else 0))
        minute = int(text[10:12] or (59 if end else 0))
        second = int(text[12:14] or (59 if end else 0))
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) and end:
        text += "T23:59:59.999999"
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def warc_key(filename: str) -> str:
    """Return the archive key of a WARC file from its name (its date is in the name)."""
    match = _NAME_STAMP.search(filename)
    if not match:
        raise ValueError(f"not a newswarc WARC file name: {filename!r}")
    y, m, d = match.groups()
    return f"warc/{y}/{m}/{d}/{filename}"


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


class ArchiveReader:
    """Streams an archive written by newswarc, on a local folder or S3, without Scrapy."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.reads = CountingReads()

    @classmethod
    def open(cls, uri: str, *, s3: S3Options | None = None) -> ArchiveReader:
        """Open the archive at ``uri`` (path, ``file://`` or ``s3://bucket/prefix``)."""
        return cls(storage_from_uri(uri, s3=s3))

    def article_keys(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[str]:
        """Yield the keys of article batches that can hold records fetched in [since, until]."""
        for key in self.storage.list("articles/"):
            if not key.endswith(".jsonl.gz"):
                continue
            match = _KEY_DATE.match(key)
            if match:
                day = date(*(int(g) for g in match.groups()))
                # A batch is filed under the day it opened and may run past midnight.
                # Keys are UTC days: compare with UTC days, whatever zone the caller used.
                if since and day < since.astimezone(UTC).date() - timedelta(days=1):
                    continue
                if until and day > until.astimezone(UTC).date():
                    continue
            yield key

    def articles(
        self,
        *,
        since: str | date | datetime | None = None,
        until: str | date | datetime | None = None,
        site: str | None = None,
        url: str | None = None,
        language: str | None = None,
        text: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield article records, streaming batch by batch.

        Args:
            since: Only records fetched at or after this time (date, ISO 8601 or WARC stamp).
            until: Only records fetched at or before this time (a bare date includes that day).
            site: Only records whose host is this domain or a subdomain of it.
            url: Only records whose ``url``, ``requested_url`` or ``canonical_url`` is this.
            language: Only records in this language (ISO 639 code).
            text: Only records whose title or text contains this, ignoring case.

        """
        needle = text.casefold() if text else None
        start, end = parse_when(since), parse_when(until, end=True)
        site = site.lower().removeprefix("www.") if site else None
        for key in self.article_keys(start, end):
            with self.storage.open(key) as raw, gzip.GzipFile(fileobj=raw) as lines:
                for line in io.TextIOWrapper(lines, encoding="utf-8"):
                    if not line.strip():
                        continue
                    record = json.loads(line)
                    if url and url not in (
                        record.get("url"),
                        record.get("requested_url"),
                        record.get("canonical_url"),
                    ):
                        continue
                    if language and record.get("language") != language.lower():
                        continue
                    if needle and needle not in (
                        f"{record.get('title') or ''}\n{record.get('text') or ''}".casefold()
                    ):
                        continue
                    if site:
                        host = _host(record.get("url", ""))
                        if host != site and not host.endswith("." + site):
                            continue
                    if start or end:
                        fetched = parse_when(record.get("fetched_at"))
                        if (
                            fetched is None
                            or (start and fetched < start)
                            or (end and fetched > end)
                        ):
                            continue
                    yield record

    def crawls(self) -> Iterator[dict[str, Any]]:
        """Yield every crawl manifest, oldest first (crawl ids sort by start time)."""
        for key in sorted(self.storage.list("crawls/")):
            if key.endswith(".json"):
                with self.storage.open(key) as fh:
                    yield json.loads(fh.read())

    def read_pointer(self, pointer: dict[str, Any]) -> Capture:
        """Read the response record a ``warc`` pointer (or index line) names, in one ranged read.

        Raises:
            ValueError: the bytes there are not that response record.

        """
        data = self.storage.read_range(
            warc_key(pointer["filename"]), int(pointer["offset"]), int(pointer["length"])
        )
        for record in ArchiveIterator(io.BytesIO(data)):
            if record.rec_type != "response":
                break
            record_id = record.rec_headers.get_header("WARC-Record-ID")
            if pointer.get("record_id") and record_id != pointer["record_id"]:
                raise ValueError(
                    f"{pointer['filename']} at {pointer['offset']} holds {record_id}, "
                    f"not {pointer['record_id']}"
                )
            http = record.http_headers
            raw = record.raw_stream.read()
            return Capture(
                url=record.rec_headers.get_header("WARC-Target-URI"),
                date=record.rec_headers.get_header("WARC-Date"),
                status=int(http.get_statuscode()),
                status_line=f"{http.protocol} {http.statusline}",
                headers=list(http.headers),
                raw=raw,
                body=_decode_body(raw, http.get_header("Content-Encoding")),
                record_id=record_id,
                pointer=pointer,
            )
        raise ValueError(f"{pointer['filename']} at {pointer['offset']} is not a response record")

    def captures(self, url: str, *, prefix: bool = False) -> list[IndexLine]:
        """Return every capture of ``url`` from the CDXJ indexes, oldest first.

        Args:
            url: The URL as fetched (any form SURT canonicalizes alike matches).
            prefix: Also every URL that starts with ``url``'s SURT key (a site or a section).

        """
        return lookup(self.storage, url, prefix=prefix, reads=self.reads)

    def capture(self, url: str, at: str | datetime | None = None) -> Capture:
        """Return the archived response of ``url``: the latest, or the closest to ``at``.

        Looks the URL up in the CDXJ indexes; an archive without indexes falls back to the
        article records' pointers.
        """
        when = parse_when(at)
        lines = [line for line in self.captures(url) if line.data.get("mime") != "warc/revisit"]
        if lines:

            def distance(line: IndexLine) -> float:
                stamp = parse_when(line.timestamp)
                assert stamp is not None
                return abs((stamp - when).total_seconds()) if when else -stamp.timestamp()

            best_line = min(lines, key=distance)
            return self.read_pointer(best_line.data)
        best: dict[str, Any] | None = None
        best_score: float | None = None
        for record in self.articles(url=url):
            pointer = record.get("warc")
            fetched = parse_when(record.get("fetched_at"))
            if not pointer or fetched is None:
                continue
            score = abs((fetched - when).total_seconds()) if when else -fetched.timestamp()
            if best_score is None or score < best_score:
                best, best_score = pointer, score
        if best is None:
            raise CaptureNotFound(f"no capture of {url} in {self.storage.uri}")
        return self.read_pointer(best)


def _decode_body(raw: bytes, encoding: str | None) -> bytes:
    codings = [c.strip().lower() for c in (encoding or "").split(",") if c.strip()]
    body = raw
    for coding in reversed(codings):
        if coding in ("gzip", "x-gzip"):
            body = gzip.decompress(body)
        elif coding == "deflate":
            import zlib

            try:
                body = zlib.decompress(body)
            except zlib.error:
                body = zlib.decompress(body, -zlib.MAX_WBITS)
        elif coding == "br":
            try:
                import brotli
            except ImportError:  # pragma: no cover - brotli comes with Scrapy's extras
                return raw
            body = brotli.decompress(body)
        elif coding not in ("identity", ""):
            return raw
    return body
