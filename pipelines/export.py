"""Article records as flat rows: CSV, and Parquet (the optional ``parquet`` extra)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import IO, Any

#: Columns of the flat exports, in order. Lists become "; "-joined strings in CSV.
COLUMNS = (
    "url",
    "requested_url",
    "canonical_url",
    "title",
    "authors",
    "published",
    "modified",
    "language",
    "site_name",
    "description",
    "categories",
    "tags",
    "image",
    "text",
    "word_count",
    "text_sha1",
    "fetched_at",
    "status",
    "crawl_id",
    "warc_filename",
    "warc_offset",
    "warc_length",
    "warc_record_id",
)
_LISTS = {"authors", "categories", "tags"}
_INTS = {"word_count", "status", "warc_offset", "warc_length"}


def flat(record: dict[str, Any]) -> dict[str, Any]:
    """Return a record's export row: its fields, with the ``warc`` pointer spread out."""
    warc = record.get("warc") or {}
    row = {k: record.get(k) for k in COLUMNS if not k.startswith("warc_")}
    row.update(
        warc_filename=warc.get("filename"),
        warc_offset=warc.get("offset"),
        warc_length=warc.get("length"),
        warc_record_id=warc.get("record_id"),
    )
    return row


def write_csv(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Write records as CSV with a header; return how many rows."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    count = 0
    for record in records:
        row = flat(record)
        for key in _LISTS:
            row[key] = "; ".join(row.get(key) or [])
        writer.writerow(row)
        count += 1
    return count


def _batches(records: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for record in records:
        batch.append(flat(record))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def write_parquet(records: Iterable[dict[str, Any]], path: str, *, batch: int = 2000) -> int:
    """Write records to a Parquet file in row groups of ``batch``; return how many rows.

    Raises:
        RuntimeError: pyarrow is not installed (``pip install 'newswarc[parquet]'``).

    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise RuntimeError("Parquet needs pyarrow: pip install 'newswarc[parquet]'") from exc

    def kind(name: str) -> Any:
        if name in _LISTS:
            return pa.list_(pa.string())
        if name in _INTS:
            return pa.int64()
        return pa.string()

    schema = pa.schema([(name, kind(name)) for name in COLUMNS])
    count = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for rows in _batches(records, batch):
            writer.write_table(pa.Table.from_pylist(rows, schema=schema))
            count += len(rows)
        if count == 0:
            writer.write_table(pa.Table.from_pylist([], schema=schema))
    return count
