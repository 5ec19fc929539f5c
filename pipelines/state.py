"""Crawl state kept between runs in SQLite: URLs seen, validators, payloads, article versions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

SCHEMA_VERSION = 2

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
CREATE TABLE IF NOT EXISTS listings (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    stored TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS listing_links (
    listing TEXT NOT NULL,
    link TEXT NOT NULL,
    PRIMARY KEY (listing, link)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS redirects (
    url TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    recorded TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS not_articles (
    url TEXT PRIMARY KEY,
    reason TEXT,
    crawl_id TEXT,
    recorded TEXT NOT NULL
);
"""

#: A URL counts as a known article once it was fetched whole (200) and its outcome recorded:
#: a version of its text, or the extraction's verdict that it is no article.
_KNOWN = (
    "SELECT u.url, u.first_seen, u.last_fetch FROM urls u WHERE u.url = ? AND u.status = 200"
    " AND (EXISTS (SELECT 1 FROM articles a WHERE a.url = u.url)"
    " OR EXISTS (SELECT 1 FROM not_articles n WHERE n.url = u.url))"
)


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
class Known:
    """A URL whose page was fetched and recorded: when first and last fetched (ISO 8601)."""

    url: str
    first_seen: str
    last_fetch: str


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

    Every lookup is one query on a primary key: nothing is loaded in memory, whatever the size
    of the archive.

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

    def known_article(self, url: str) -> Known | None:
        """Return the fetch times of ``url`` if it is a known article, else None.

        A URL that permanently redirected to a known article is known as that article.
        """
        row = self.db.execute(_KNOWN, (url,)).fetchone()
        if row is None:
            moved = self.db.execute("SELECT target FROM redirects WHERE url = ?", (url,))
            target = moved.fetchone()
            if target is not None and target[0] != url:
                row = self.db.execute(_KNOWN, (target[0],)).fetchone()
        return Known(*row) if row else None

    def record_redirect(self, url: str, target: str) -> None:
        """Remember that ``url`` moved permanently to ``target``."""
        self.db.execute(
            "INSERT OR REPLACE INTO redirects (url, target, recorded) VALUES (?, ?, ?)",
            (url, target, datetime.now(UTC).isoformat()),
        )

    def record_not_article(self, url: str, reason: str, crawl_id: str | None = None) -> None:
        """Remember the extraction's verdict that the page at ``url`` is no article."""
        self.db.execute(
            "INSERT OR REPLACE INTO not_articles (url, reason, crawl_id, recorded)"
            " VALUES (?, ?, ?, ?)",
            (url, reason, crawl_id, datetime.now(UTC).isoformat()),
        )

    def listing_validators(self, url: str) -> tuple[str | None, str | None]:
        """Return the (ETag, Last-Modified) of a listing page whose links are stored."""
        row = self.db.execute(
            "SELECT etag, last_modified FROM listings WHERE url = ?", (url,)
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def save_listing(
        self, url: str, etag: str | None, last_modified: str | None, links: list[str]
    ) -> None:
        """Store a listing page's links with its validators, in one transaction.

        Stored together, so a listing that answers 304 next time gives back the links its
        validators stand for.
        """
        with self._transaction():
            self.db.execute("DELETE FROM listing_links WHERE listing = ?", (url,))
            self.db.executemany(
                "INSERT OR IGNORE INTO listing_links (listing, link) VALUES (?, ?)",
                ((url, link) for link in links),
            )
            self.db.execute(
                "INSERT OR REPLACE INTO listings (url, etag, last_modified, stored)"
                " VALUES (?, ?, ?, ?)",
                (url, etag, last_modified, datetime.now(UTC).isoformat()),
            )

    def listing_links(self, url: str) -> list[str]:
        """Return the links stored for a listing page (one page's worth, read whole).

        Read whole rather than iterated: the same connection writes between the spider's
        yields, and SQLite leaves a read interleaved with writes undefined.
        """
        rows = self.db.execute(
            "SELECT link FROM listing_links WHERE listing = ? ORDER BY link", (url,)
        ).fetchall()
        return [r[0] for r in rows]

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")


class StateStore(Protocol):
    """What the crawler needs of a crawl state.

    :class:`CrawlState` (SQLite, one process) or :class:`pipelines.redisstate.RedisState`
    (Redis, shared by many workers).
    """

    def close(self) -> None: ...
    def seen(self, url: str) -> Seen | None: ...
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
    ) -> None: ...
    def validators(self, url: str) -> tuple[str | None, str | None]: ...
    def save_validators(self, found: dict[str, tuple[str | None, str | None]]) -> None: ...
    def latest_version(self, url: str) -> Version | None: ...
    def add_version(self, version: Version) -> None: ...
    def known_article(self, url: str) -> Known | None: ...
    def record_redirect(self, url: str, target: str) -> None: ...
    def record_not_article(self, url: str, reason: str, crawl_id: str | None = None) -> None: ...
    def listing_validators(self, url: str) -> tuple[str | None, str | None]: ...
    def save_listing(
        self, url: str, etag: str | None, last_modified: str | None, links: list[str]
    ) -> None: ...
    def listing_links(self, url: str) -> list[str]: ...


#: Crawl state backends (``NEWSWARC_STATE_BACKEND``).
BACKENDS = ("sqlite", "redis")


def open_state(
    backend: str, path: Path, redis_url: str | None = None, prefix: str = "newswarc:state"
) -> StateStore:
    """Open the crawl state: the SQLite file at ``path``, or the Redis at ``redis_url``.

    Raises:
        StateError: an unknown backend, no Redis URL, or a state that cannot be used.
        sqlite3.Error: the SQLite file is damaged.

    """
    if backend == "sqlite":
        return CrawlState(path)
    if backend == "redis":
        if not redis_url:
            raise StateError("NEWSWARC_STATE_BACKEND is redis but NEWSWARC_REDIS_URL is not set")
        from pipelines.redisstate import RedisState

        return RedisState.from_url(redis_url, prefix)
    raise StateError(f"NEWSWARC_STATE_BACKEND must be one of {', '.join(BACKENDS)}: {backend!r}")
