"""CDXJ index lines, as pywb and cdxj-indexer write them: SURT key, 14-digit timestamp, JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Protocol

from surt import surt
from warcio.archiveiterator import ArchiveIterator

#: Record types a replay index lists.
INDEXED = frozenset({"response", "revisit"})


def surt_key(url: str) -> str:
    """Return the SURT sort key of ``url`` (``com,example)/path?query``)."""
    try:
        return str(surt(url))
    except Exception:  # a URL surt cannot parse still gets a stable, sortable key
        return url.lower()


def warc_timestamp(warc_date: str) -> str:
    """Return the 14-digit timestamp of a ``WARC-Date``."""
    digits = re.sub(r"\D", "", warc_date)
    return (digits + "00000000000000")[:14]


@dataclass(frozen=True, order=True)
class IndexLine:
    """One CDXJ line: where a capture of a URL is, and what it is."""

    key: str
    timestamp: str
    fields: tuple[tuple[str, str], ...]

    @property
    def data(self) -> dict[str, str]:
        """The JSON block as a dict."""
        return dict(self.fields)

    def to_text(self) -> str:
        """Return the line as written in a ``.cdxj`` file (without the newline)."""
        return f"{self.key} {self.timestamp} {json.dumps(self.data, ensure_ascii=False)}"

    @classmethod
    def parse(cls, line: str) -> IndexLine:
        """Parse one line of a ``.cdxj`` file.

        Raises:
            ValueError: the line is not a CDXJ line.

        """
        key, timestamp, block = line.rstrip("\n").split(" ", 2)
        data = json.loads(block)
        if not isinstance(data, dict) or not re.fullmatch(r"\d{14}", timestamp):
            raise ValueError(f"not a CDXJ line: {line[:200]!r}")
        return cls(key, timestamp, tuple((k, str(v)) for k, v in data.items()))


def make_line(
    *,
    url: str,
    warc_date: str,
    filename: str,
    offset: int,
    length: int,
    status: int | str | None,
    mime: str | None,
    digest: str | None,
    record_type: str = "response",
    method: str | None = None,
) -> IndexLine:
    """Build the index line of one record."""
    fields: dict[str, Any] = {"url": url}
    if record_type == "revisit":
        fields["mime"] = "warc/revisit"
    elif mime:
        fields["mime"] = mime.split(";")[0].strip().lower()
    if status is not None and status != "":
        fields["status"] = str(status)
    if digest:
        fields["digest"] = digest
    if method and method.upper() != "GET":
        fields["method"] = method.upper()
    fields.update(length=str(length), offset=str(offset), filename=filename)
    return IndexLine(
        surt_key(url), warc_timestamp(warc_date), tuple((k, str(v)) for k, v in fields.items())
    )


def index_warc(stream: IO[bytes], filename: str) -> Iterator[IndexLine]:
    """Yield the index lines of a WARC file's response and revisit records, in file order."""
    records = ArchiveIterator(stream)
    for record in records:
        if record.rec_type not in INDEXED:
            continue
        headers = record.rec_headers
        http = record.http_headers
        url = headers.get_header("WARC-Target-URI")
        offset = records.get_record_offset()
        record.raw_stream.read()  # to its end, so the length is known
        length = records.get_record_length()
        yield make_line(
            url=url,
            warc_date=headers.get_header("WARC-Date"),
            filename=filename,
            offset=offset,
            length=length,
            status=http.get_statuscode() if http else None,
            mime=http.get_header("Content-Type") if http else None,
            digest=headers.get_header("WARC-Payload-Digest"),
            record_type=record.rec_type,
        )


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


def write_lines(lines: Iterable[IndexLine], out: _Writable) -> int:
    """Write index lines sorted by key and time; return how many."""
    count = 0
    for line in sorted(lines):
        out.write(line.to_text().encode("utf-8") + b"\n")
        count += 1
    return count


def cdxj_key(warc_key: str) -> str:
    """Return the key of the index beside a WARC file (``NAME.warc.gz`` -> ``NAME.cdxj``)."""
    return warc_key.removesuffix(".gz").removesuffix(".warc") + ".cdxj"
