"""Rolling WARC files: one gzip member per record, named and published as web archives expect."""

from __future__ import annotations

import io
import os
import re
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from pipelines.cdxj import IndexLine, cdxj_key, make_line, write_lines
from pipelines.spool import ClosedFile, GzipMembers, SpoolFile


class _RawHeaders(StatusAndHeaders):
    """Headers serialised byte for byte (latin-1), not percent-encoded as warcio would."""

    def compute_headers_buffer(self, header_filter: Any = None) -> None:
        self.headers_buff = self.to_str(header_filter).encode("latin-1") + b"\r\n"


@dataclass(frozen=True)
class RevisitOf:
    """The earlier capture a revisit record refers to (identical payload)."""

    record_id: str
    uri: str
    date: str
    digest: str


@dataclass
class Exchange:
    """One HTTP request and its response as they crossed the wire (header values in latin-1)."""

    url: str
    method: str
    target: str  # request-target: path and query
    request_headers: list[tuple[str, str]]
    status: int
    response_headers: list[tuple[str, str]]
    body: bytes
    date: datetime
    request_body: bytes = b""
    ip: str | None = None
    reason: str | None = None
    revisit: RevisitOf | None = None
    #: Why the crawler stored less than the server meant to send (``WARC-Truncated``): "length",
    #: "time" or "disconnect", as the WARC 1.0 and 1.1 specifications name them.
    truncated: str | None = None


@dataclass(frozen=True)
class RecordPointer:
    """Where a response record lives: reading ``length`` bytes at ``offset`` gives exactly it."""

    filename: str
    uri: str
    record_id: str
    offset: int
    length: int
    payload_digest: str
    date: str

    def as_dict(self) -> dict[str, Any]:
        """Return the pointer as the article record's ``warc`` field."""
        return asdict(self)


def response_headers_as_sent(
    headers: list[tuple[str, str]], body_length: int
) -> list[tuple[str, str]]:
    """Adjust response headers to the body as stored.

    HTTP clients de-chunk bodies, so a remaining ``Transfer-Encoding`` would lie about the
    stored bytes: it is kept under ``X-Crawler-Transfer-Encoding``. A ``Content-Length`` that
    differs from the stored body is kept as ``X-Crawler-Content-Length`` and replaced by the
    real length, as Common Crawl does.
    """
    out: list[tuple[str, str]] = []
    lengths = []
    for name, value in headers:
        low = name.lower()
        if low == "transfer-encoding":
            out.append(("X-Crawler-Transfer-Encoding", value))
        elif low == "content-length":
            lengths.append(value)
            if value.strip() == str(body_length):
                out.append((name, value))
            else:
                out.append(("X-Crawler-Content-Length", value))
                out.append(("Content-Length", str(body_length)))
        else:
            out.append((name, value))
    return out


#: WARC fields a request record shares with its response record.
_SHARED_FIELDS = ("WARC-Date", "WARC-Target-URI", "WARC-IP-Address")


def _host_tag() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "localhost"


@dataclass
class WarcStats:
    """Running totals of one writer."""

    records: int = 0
    captures: int = 0
    files: int = 0
    bytes: int = 0
    filenames: list[str] = field(default_factory=list)


class WarcRoller:
    """Writes capture records to ``PREFIX-TIMESTAMP-SERIAL-HOST.PID.warc.gz`` files that roll over.

    A file rolls over before a capture that would be written past ``max_size`` bytes, and once it
    is older than ``max_age`` seconds; it rolls only between captures, so a response and its
    request always share a file. Each closed file goes to ``publish`` (the uploader).
    """

    def __init__(
        self,
        spool: Path,
        *,
        uri_for: Callable[[str], str],
        publish: Callable[[ClosedFile], object],
        prefix: str = "newswarc",
        max_size: int = 10**9,
        max_age: float = 3600.0,
        warc_version: str = "1.0",
        gzip_level: int = 6,
        info: dict[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spool = spool
        self.uri_for = uri_for
        self.publish = publish
        self.prefix = prefix
        self.max_size = max_size
        self.max_age = max_age
        self.warc_version = f"WARC/{warc_version}"
        self.gzip_level = gzip_level
        self.info = info or {}
        self.clock = clock
        self.stats = WarcStats()
        self._serial = 0
        self._host = _host_tag()
        self._file: SpoolFile | None = None
        self._gz: GzipMembers | None = None
        self._writer: WARCWriter | None = None
        self._opened_at = 0.0
        self._name = ""
        self._index: list[IndexLine] = []

    @property
    def micros(self) -> bool:
        """WARC/1.1 dates carry microseconds."""
        return self.warc_version >= "WARC/1.1"

    def _open(self) -> None:
        now = self.clock()
        stamp = datetime.fromtimestamp(now, UTC)
        self._name = (
            f"{self.prefix}-{stamp:%Y%m%d%H%M%S}-{self._serial:05d}-"
            f"{self._host}.{os.getpid()}.warc.gz"
        )
        self._serial += 1
        key = f"warc/{stamp:%Y/%m/%d}/{self._name}"
        self._file = SpoolFile(self.spool, key, "application/warc")
        self._gz = GzipMembers(self._file, self.gzip_level)
        self._writer = WARCWriter(self._gz, gzip=False, warc_version=self.warc_version)
        self._opened_at = now
        info = {"software": "newswarc", "format": "WARC File Format 1.1", **self.info}
        if self.warc_version == "WARC/1.0":
            info["format"] = "WARC File Format 1.0"
            info["conformsTo"] = "http://bibnum.bnf.fr/WARC/WARC_ISO_28500_version1_latestdraft.pdf"
        else:
            info["conformsTo"] = (
                "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
            )
        info["hostname"] = socket.gethostname()
        record = self._writer.create_warcinfo_record(self._name, info)
        try:
            self._writer.write_record(record)
        except BaseException:
            self._file.abandon()
            self._file = self._gz = self._writer = None
            raise
        self.stats.records += 1
        self.stats.files += 1
        self.stats.filenames.append(self._name)

    def _roll_needed(self, upcoming: int) -> bool:
        if self._file is None:
            return True
        if self._file.size > 0 and self._file.size + upcoming > self.max_size:
            return True
        return self.clock() - self._opened_at >= self.max_age

    def roll_if_stale(self) -> None:
        """Close the current file if it is older than ``max_age`` (called by a timer)."""
        if self._file is not None and self.clock() - self._opened_at >= self.max_age:
            self.close()

    def write(self, exchange: Exchange) -> RecordPointer:
        """Write the response record, then its request record; return the response's pointer."""
        # Compressed size is unknown beforehand; the raw size is a safe upper bound.
        if self._roll_needed(len(exchange.body) + 4096):
            self.close()
            self._open()
        assert self._file is not None and self._writer is not None
        writer = self._writer
        when = exchange.date
        if when.tzinfo is not None:
            # warcio formats naive UTC; an aware datetime would get a second zone suffix.
            when = when.astimezone(UTC).replace(tzinfo=None)
        date = datetime_to_iso_date(when, use_micros=self.micros)
        reason = exchange.reason
        if reason is None:
            try:
                reason = HTTPStatus(exchange.status).phrase
            except ValueError:
                reason = ""
        resp_headers = _RawHeaders(
            f"{exchange.status} {reason}".rstrip(),
            response_headers_as_sent(exchange.response_headers, len(exchange.body)),
            protocol="HTTP/1.1",
        )
        # The usual header order of web archives: type, id, date, target first.
        warc_headers = {
            "WARC-Type": "response",
            "WARC-Record-ID": f"<urn:uuid:{uuid.uuid4()}>",
            "WARC-Date": date,
            "WARC-Target-URI": exchange.url,
        }
        if exchange.ip:
            warc_headers["WARC-IP-Address"] = exchange.ip
        revisit = exchange.revisit
        if exchange.truncated and revisit is None:
            warc_headers["WARC-Truncated"] = exchange.truncated
        if revisit is None:
            response = writer.create_warc_record(
                exchange.url,
                "response",
                payload=io.BytesIO(exchange.body),
                length=len(exchange.body),
                http_headers=resp_headers,
                warc_headers_dict=warc_headers,
            )
        else:
            # Same payload as an earlier capture: headers only, pointing at that record
            # (identical-payload-digest profile), never a second copy of the body.
            warc_headers.update(
                {
                    "WARC-Type": "revisit",
                    "WARC-Refers-To": revisit.record_id,
                    "WARC-Truncated": "length",
                }
            )
            response = writer.create_revisit_record(
                exchange.url,
                digest=revisit.digest,
                refers_to_uri=revisit.uri,
                refers_to_date=revisit.date,
                http_headers=resp_headers,
                warc_headers_dict=warc_headers,
            )
        start = self._file.tell()
        try:
            writer.write_record(response)
            end = self._file.tell()
            record_id = response.rec_headers.get_header("WARC-Record-ID")
            req_headers = _RawHeaders(
                f"{exchange.method} {exchange.target} HTTP/1.1",
                exchange.request_headers,
                protocol="",
            )
            request = writer.create_warc_record(
                exchange.url,
                "request",
                payload=io.BytesIO(exchange.request_body),
                length=len(exchange.request_body),
                http_headers=req_headers,
                warc_headers_dict={
                    "WARC-Type": "request",
                    "WARC-Record-ID": f"<urn:uuid:{uuid.uuid4()}>",
                    # The request went out whole: none of the response's truncation or revisit
                    # fields apply to it.
                    **{k: v for k, v in warc_headers.items() if k in _SHARED_FIELDS},
                    "WARC-Concurrent-To": record_id,
                },
            )
            writer.write_record(request)
            self._file.flush()
        except BaseException:
            # Disk full, I/O error: cut the file back to its last whole capture, so it stays
            # valid and later captures are not written after half a record.
            assert self._gz is not None
            self._gz.discard()
            self._file.truncate(start)
            raise
        self.stats.records += 2
        self.stats.captures += 1
        content_type = next(
            (v for k, v in exchange.response_headers if k.lower() == "content-type"), None
        )
        self._index.append(
            make_line(
                url=exchange.url,
                warc_date=date,
                filename=self._name,
                offset=start,
                length=end - start,
                status=exchange.status,
                mime=content_type,
                digest=response.rec_headers.get_header("WARC-Payload-Digest"),
                method=exchange.method,
                record_type="revisit" if revisit else "response",
            )
        )
        return RecordPointer(
            filename=self._name,
            uri=self.uri_for(self._file.key),
            record_id=record_id,
            offset=start,
            length=end - start,
            payload_digest=response.rec_headers.get_header("WARC-Payload-Digest"),
            date=date,
        )

    def close(self) -> None:
        """Close and publish the current file and its CDXJ index, if a file is open."""
        if self._file is None:
            return
        closed = self._file.close()
        self.stats.bytes += closed.path.stat().st_size
        self._file = None
        self._gz = None
        self._writer = None
        index = SpoolFile(self.spool, cdxj_key(closed.key), "application/cdxj")
        write_lines(self._index, index)
        self._index = []
        self.publish(closed)
        self.publish(index.close())
