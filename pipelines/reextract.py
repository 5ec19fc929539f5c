"""Run the current extractor again over archived captures: new article records, no refetching."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator

from pipelines.cdxj import IndexLine
from pipelines.detect import article_signals
from pipelines.extract import extract_article
from pipelines.reader import _decode_body, parse_when, warc_key
from pipelines.storage import Storage

_DAY = re.compile(r"^warc/(\d{4})/(\d{2})/(\d{2})/.*\.cdxj$")


def _index_lines(
    storage: Storage, start: datetime | None, end: datetime | None
) -> Iterator[IndexLine]:
    for key in storage.list("warc/"):
        match = _DAY.match(key)
        if not match:
            continue
        day = "".join(match.groups())
        if (start and day < f"{start:%Y%m%d}") or (end and day > f"{end:%Y%m%d}"):
            continue
        with storage.open(key) as fh:
            for text in io.TextIOWrapper(fh, encoding="utf-8"):
                if text.strip():
                    yield IndexLine.parse(text)


def reextract(
    storage: Storage,
    *,
    since: str | None = None,
    until: str | None = None,
    site: str | None = None,
    min_chars: int = 400,
    crawl_id: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield an article record for every archived HTML page (status 200) that holds one.

    Captures come from the per-file CDXJ indexes; each is read with one ranged read. A page is
    kept when its extracted text has at least ``min_chars`` characters.
    """
    start, end = parse_when(since), parse_when(until, end=True)
    crawl_id = crawl_id or f"reextract-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    site = site.lower().removeprefix("www.") if site else None
    for line in _index_lines(storage, start, end):
        data = line.data
        if data.get("status") != "200" or "html" not in data.get("mime", ""):
            continue
        when = parse_when(line.timestamp)
        if when is None or (start and when < start) or (end and when > end):
            continue
        host = (urlsplit(data["url"]).hostname or "").removeprefix("www.")
        if site and host != site and not host.endswith("." + site):
            continue
        raw = storage.read_range(
            warc_key(data["filename"]), int(data["offset"]), int(data["length"])
        )
        record = next(iter(ArchiveIterator(io.BytesIO(raw))))
        http = record.http_headers
        body = _decode_body(record.raw_stream.read(), http.get_header("Content-Encoding"))
        # The crawl's rule: a page the crawl would not take for an article is not one now.
        signals = article_signals(data["url"], body[:300_000].decode("utf-8", "replace"))
        if not signals:
            continue
        fields = extract_article(body, data["url"], content_type=http.get_header("Content-Type"))
        if not fields or len(fields["text"]) < min_chars:
            continue
        headers = record.rec_headers
        yield {
            "url": data["url"],
            "requested_url": data["url"],
            **fields,
            "fetched_at": when.isoformat(),
            "status": 200,
            "crawl_id": crawl_id,
            "quality": {**fields["quality"], "signals": signals},
            "warc": {
                "filename": data["filename"],
                "uri": storage.uri_for(warc_key(data["filename"])),
                "record_id": headers.get_header("WARC-Record-ID"),
                "offset": int(data["offset"]),
                "length": int(data["length"]),
                "payload_digest": headers.get_header("WARC-Payload-Digest"),
                "date": headers.get_header("WARC-Date"),
            },
        }
