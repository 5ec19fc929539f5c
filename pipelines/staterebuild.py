"""``newswarc state rebuild``: the crawl state rebuilt from the archive, its source of truth."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from pipelines.cdxj import IndexLine
from pipelines.reader import ArchiveReader, warc_key
from pipelines.state import BACKENDS, StateStore, Version, open_state

_PERMANENT = ("301", "308")


def _when(line: IndexLine) -> datetime:
    return datetime.strptime(line.timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def rebuild_state(reader: ArchiveReader, state: StateStore) -> dict[str, int]:
    """Replay every capture of the archive's CDXJ indexes and every article record into ``state``.

    Captures are read file by file, oldest file first (names sort by time), each line applied
    only if it is not older than what the state holds: the newest capture of a URL decides its
    validators, payload digest and record; a revisit moves only its last fetch. Article records
    give the versions. Not in the archive, so not rebuilt: the extraction's "no article"
    verdicts, listing links and feed validators (the next run fetches those pages once more).
    Nothing is held in memory but one index file's line at a time.

    Returns:
        Counts: ``captures``, ``revisits``, ``redirects``, ``versions``, ``skipped_older``.

    """
    counts = dict.fromkeys(("captures", "revisits", "redirects", "versions", "skipped_older"), 0)
    storage = reader.storage
    indexes = sorted(k for k in storage.list("warc/") if k.endswith(".cdxj"))
    for key in indexes:
        with storage.open(key) as fh:
            for raw in fh:
                text = raw.decode("utf-8").strip()
                if not text:
                    continue
                line = IndexLine.parse(text)
                data = line.data
                url = data["url"]
                when = _when(line)
                seen = state.seen(url)
                if seen is not None and datetime.fromisoformat(seen.last_fetch) > when:
                    counts["skipped_older"] += 1
                    continue
                if data.get("mime") == "warc/revisit":
                    # The payload is the one already recorded: only the fetch time moves.
                    state.record_fetch(
                        url,
                        status=304,
                        etag=None,
                        last_modified=None,
                        payload_digest=None,
                        record_id=None,
                        warc_uri=None,
                        warc_date=None,
                        when=when,
                    )
                    counts["revisits"] += 1
                    continue
                capture = reader.read_pointer(data)
                state.record_fetch(
                    url,
                    status=capture.status,
                    etag=_header(capture.headers, "etag"),
                    last_modified=_header(capture.headers, "last-modified"),
                    payload_digest=data.get("digest"),
                    record_id=capture.record_id,
                    warc_uri=storage.uri_for(warc_key(data["filename"])),
                    warc_date=capture.date,
                    when=datetime.fromisoformat(capture.date.replace("Z", "+00:00")),
                )
                counts["captures"] += 1
                location = _header(capture.headers, "location")
                if data.get("status") in _PERMANENT and location:
                    state.record_redirect(url, urljoin(url, location))
                    counts["redirects"] += 1
    for record in reader.articles():
        warc = record.get("warc") or {}
        state.add_version(
            Version(
                record["url"],
                int(record.get("version") or 1),
                record["text_sha1"],
                record.get("fetched_at"),
                record.get("crawl_id"),
                warc.get("record_id"),
            )
        )
        counts["versions"] += 1
    return counts


def cmd_state(args: argparse.Namespace) -> int:
    """Rebuild the crawl state from an archive."""
    redis_url = args.redis_url or os.environ.get("NEWSWARC_REDIS_URL")
    state = open_state(args.backend, Path(args.path).expanduser(), redis_url)
    try:
        counts = rebuild_state(ArchiveReader.open(args.archive), state)
    finally:
        state.close()
    print(
        "rebuilt from {captures} captures and {revisits} revisits, {redirects} permanent "
        "redirects, {versions} article versions ({skipped_older} older lines skipped)".format(
            **counts
        )
    )
    return 0


def register(subparsers: Any) -> None:
    """Add ``state rebuild ARCHIVE_URI`` to the ``newswarc`` command.

    Args:
        subparsers: What ``ArgumentParser.add_subparsers()`` returned.

    """
    p = subparsers.add_parser("state", help="the crawl state: rebuild it from the archive")
    actions = p.add_subparsers(dest="action", required=True)
    r = actions.add_parser(
        "rebuild",
        help="rebuild the crawl state from the archive's CDXJ indexes and article records",
    )
    r.add_argument("archive", help="archive URI (run `newswarc index` first for old WARCs)")
    r.add_argument("--backend", choices=BACKENDS, default="sqlite", help="default: sqlite")
    r.add_argument(
        "--path", default=".crawlstate.sqlite", help="SQLite file (default: ./.crawlstate.sqlite)"
    )
    r.add_argument("--redis-url", help="Redis state (default: $NEWSWARC_REDIS_URL)")
    r.set_defaults(func=cmd_state)
