"""Crawl state kept between runs in SQLite: URLs seen, validators, payloads, article versions."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS urls (
    url TEXT PRIMARY KEY,
    first_seen TEXT NOT NULL,
    last_fetch TEXT NOT NULL,
    status INTEGER,
    etag TEXT,
    last_modified TEXT,
    payload_digest TEXT,
    record_id TEXT,
    warc_uri TEXT,
    warc_date TEXT
);
CREATE TABLE IF NOT EXISTS discovery (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    processed TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS articles (
    url TEXT NOT NULL,
    version INTEGER NOT NULL,
    text_sha1 TEXT NOT NULL,
    fetched_at TEXT,
    crawl_id TEXT,
    record_id TEXT,
    PRIMARY KEY (url, version)
);
"""


class StateError(Exception):
    """The state database is unusable (a newer schema, a damaged file)."""


@dataclass(frozen=True)
class Seen:
    """What the last fetch of a URL left."""

    url: str
    first_seen: str
    last_fetch: str
    status: int | None
    etag: str | None
    last_modified: str | None
    payload_digest: str | None
    record_id: str | None
    warc_uri: str | None
    warc_date: str | None


@dataclass(frozen=True)
class Version:
    """One stored version of an article's text."""

    url: str
    version: int
    text_sha1: str
    fetched_at: str | None
    crawl_id: str | None
    record_id: str | None


class CrawlState:
    """The state of one archive's crawls, in one SQLite file (WAL, one write per capture).

    Raises:
        StateError: the file has a newer schema than this software knows.

    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StateError(
                f"{path} has state schema {version}; this newswarc knows {SCHEMA_VERSION}"
            )
        if version < SCHEMA_VERSION:
            self.db.executescript(_SCHEMA)
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def seen(self, url: str) -> Seen | None:
        """Return what the last fetch of ``url`` left, or None if it was never fetched."""
        row = self.db.execute(
            "SELECT url, first_seen, last_fetch, status, etag, last_modified, payload_digest,"
            " record_id, warc_uri, warc_date FROM urls WHERE url = ?",
            (url,),
        ).fetchone()
        return Seen(*row) if row else None

    def record_fetch(
        self,
        url: str,
        *,
        status: int,
        etag: str | None,
        last_modified: str | None,
        payload_digest: str | None,
        record_id: str | None,
        warc_uri: str | None,
        warc_date: str | None,
        when: datetime | None = None,
    ) -> None:
        """Remember a fetch; a 304 keeps the stored payload and record."""
        now = (when or datetime.now(UTC)).isoformat()
        if status == 304:
            self.db.execute("UPDATE urls SET last_fetch = ? WHERE url = ?", (now, url))
            return
        self.db.execute(
            "INSERT INTO urls (url, first_seen, last_fetch, status, etag, last_modified,"
            " payload_digest, record_id, warc_uri, warc_date)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(url) DO UPDATE SET last_fetch = excluded.last_fetch,"
            " status = excluded.status, etag = excluded.etag,"
            " last_modified = excluded.last_modified, payload_digest = excluded.payload_digest,"
            " record_id = excluded.record_id, warc_uri = excluded.warc_uri,"
            " warc_date = excluded.warc_date",
            (
                url,
                now,
                now,
                status,
                etag,
                last_modified,
                payload_digest,
                record_id,
                warc_uri,
                warc_date,
            ),
        )

    def validators(self, url: str) -> tuple[str | None, str | None]:
        """Return the (ETag, Last-Modified) of a feed or sitemap a finished crawl processed."""
        row = self.db.execute(
            "SELECT etag, last_modified FROM discovery WHERE url = ?", (url,)
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def save_validators(self, found: dict[str, tuple[str | None, str | None]]) -> None:
        """Remember the validators of feeds and sitemaps whose every entry was handled."""
        now = datetime.now(UTC).isoformat()
        for url, (etag, last_modified) in found.items():
            self.db.execute(
                "INSERT OR REPLACE INTO discovery (url, etag, last_modified, processed)"
                " VALUES (?, ?, ?, ?)",
                (url, etag, last_modified, now),
            )

    def latest_version(self, url: str) -> Version | None:
        """Return the newest stored version of the article at ``url``."""
        row = self.db.execute(
            "SELECT url, version, text_sha1, fetched_at, crawl_id, record_id FROM articles"
            " WHERE url = ? ORDER BY version DESC LIMIT 1",
            (url,),
        ).fetchone()
        return Version(*row) if row else None

    def add_version(self, version: Version) -> None:
        """Store a new version of an article."""
        self.db.execute(
            "INSERT OR REPLACE INTO articles (url, version, text_sha1, fetched_at, crawl_id,"
            " record_id) VALUES (?, ?, ?, ?, ?, ?)",
            (
                version.url,
                version.version,
                version.text_sha1,
                version.fetched_at,
                version.crawl_id,
                version.record_id,
            ),
        )
