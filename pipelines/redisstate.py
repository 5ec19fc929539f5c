"""Crawl state shared by many workers, in Redis: the same interface as the SQLite state."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from pipelines.state import Known, Seen, StateError, Version

#: Fields of a URL's hash, in the order of :class:`Seen` after ``url``.
_SEEN = (
    "first_seen",
    "last_fetch",
    "status",
    "etag",
    "last_modified",
    "payload_digest",
    "record_id",
    "warc_uri",
    "warc_date",
)
SCHEMA_VERSION = 1
logger = logging.getLogger(__name__)


class PatientRetry(Retry):
    """Retry a command while Redis is unreachable (restarted, failing over), with back-off.

    Logs the outage once, then every tenth attempt; a refused password is not retried. The
    caller waits: better a paused crawl than a capture whose state was never written.
    """

    def call_with_retry(self, do: Any, fail: Any, *args: Any, **kwargs: Any) -> Any:
        def noisy(error: Exception, *rest: Any) -> Any:
            if isinstance(error, redis.AuthenticationError):
                raise error
            self.failures = getattr(self, "failures", 0) + 1
            if self.failures % 10 == 1:
                logger.warning("Redis unreachable (%s): waiting and retrying", error)
            return fail(error, *rest)

        result = super().call_with_retry(do, noisy, *args, **kwargs)
        if getattr(self, "failures", 0):
            logger.warning("Redis answers again after %d retries", self.failures)
            self.failures = 0
        return result


def patient_client(url: str, patience: float = 120.0, timeout: float = 10.0) -> redis.Redis:
    """Return a client that waits up to about ``patience`` seconds for an unreachable Redis."""
    retries = max(1, int(patience / 2))
    retry = PatientRetry(ExponentialBackoff(cap=2.0, base=0.05), retries)
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=retry,
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )


def _text(value: bytes | str | None) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


class RedisState:
    """The state of one archive's crawls in a Redis database, shared by every worker.

    One hash per URL (``PREFIX:url:URL``), per article (``PREFIX:art:URL``, one field per
    version), per listing and feed; every lookup is one round trip on one or two keys, nothing
    is loaded in memory. Turn Redis persistence on (``appendonly yes``): the archive is the
    source of truth (``newswarc state rebuild``), but a lost state means refetching.

    Raises:
        StateError: Redis does not answer, refuses the password, or holds a newer schema.

    """

    def __init__(self, client: redis.Redis, prefix: str = "newswarc:state") -> None:
        self.client = client
        self.prefix = prefix
        try:
            version = client.get(f"{prefix}:schema")
            if version is None:
                client.set(f"{prefix}:schema", SCHEMA_VERSION, nx=True)
            elif int(version) > SCHEMA_VERSION:
                raise StateError(
                    f"Redis state {prefix} has schema {int(version)}; "
                    f"this newswarc knows {SCHEMA_VERSION}"
                )
        except redis.RedisError as exc:
            raise StateError(f"Redis state unusable: {exc}") from exc

    @classmethod
    def from_url(cls, url: str, prefix: str = "newswarc:state") -> RedisState:
        """Connect to the Redis at ``url`` (``redis://[:password@]host:port/db``)."""
        try:
            client = patient_client(url)
        except ValueError as exc:
            raise StateError(f"bad Redis URL: {exc}") from exc
        return cls(client, prefix)

    def _key(self, kind: str, url: str) -> str:
        return f"{self.prefix}:{kind}:{url}"

    def close(self) -> None:
        """Close the connections."""
        self.client.close()

    def seen(self, url: str) -> Seen | None:
        """Return what the last fetch of ``url`` left, or None if it was never fetched."""
        values = self.client.hmget(self._key("url", url), _SEEN)
        if values[0] is None:
            return None
        fields: list[Any] = [_text(v) for v in values]
        fields[2] = int(fields[2]) if fields[2] is not None else None
        return Seen(url, *fields)

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
        key = self._key("url", url)
        if status == 304:
            if self.client.exists(key):
                self.client.hset(key, "last_fetch", now)
            return
        values: dict[str, str | int | None] = {
            "last_fetch": now,
            "status": status,
            "etag": etag,
            "last_modified": last_modified,
            "payload_digest": payload_digest,
            "record_id": record_id,
            "warc_uri": warc_uri,
            "warc_date": warc_date,
        }
        pipe = self.client.pipeline(transaction=True)
        pipe.hsetnx(key, "first_seen", now)
        pipe.hset(key, mapping={k: v for k, v in values.items() if v is not None})
        gone = [k for k, v in values.items() if v is None]
        if gone:
            pipe.hdel(key, *gone)
        pipe.execute()

    def validators(self, url: str) -> tuple[str | None, str | None]:
        """Return the (ETag, Last-Modified) of a feed or sitemap a finished crawl processed."""
        etag, modified = self.client.hmget(self._key("feed", url), ("etag", "last_modified"))
        return _text(etag), _text(modified)

    def save_validators(self, found: dict[str, tuple[str | None, str | None]]) -> None:
        """Remember the validators of feeds and sitemaps whose every entry was handled."""
        now = datetime.now(UTC).isoformat()
        pipe = self.client.pipeline(transaction=True)
        for url, (etag, last_modified) in found.items():
            key = self._key("feed", url)
            pipe.delete(key)
            values = {"etag": etag, "last_modified": last_modified, "processed": now}
            pipe.hset(key, mapping={k: v for k, v in values.items() if v is not None})
        pipe.execute()

    def latest_version(self, url: str) -> Version | None:
        """Return the newest stored version of the article at ``url``."""
        versions = self.client.hgetall(self._key("art", url))
        if not versions:
            return None
        number = max(int(v) for v in versions)
        text_sha1, fetched_at, crawl_id, record_id = json.loads(versions[str(number).encode()])
        return Version(url, number, text_sha1, fetched_at, crawl_id, record_id)

    def add_version(self, version: Version) -> None:
        """Store a new version of an article."""
        value = [version.text_sha1, version.fetched_at, version.crawl_id, version.record_id]
        self.client.hset(self._key("art", version.url), str(version.version), json.dumps(value))

    def _known(self, url: str) -> Known | None:
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(self._key("url", url), ("first_seen", "last_fetch", "status"))
        pipe.exists(self._key("art", url), self._key("noart", url))
        (first, last, status), recorded = pipe.execute()
        if first is None or status != b"200" or not recorded:
            return None
        return Known(url, first.decode(), last.decode())

    def known_article(self, url: str) -> Known | None:
        """Return the fetch times of ``url`` if it is a known article, else None.

        A URL that permanently redirected to a known article is known as that article.
        """
        known = self._known(url)
        if known is None:
            target = _text(self.client.get(self._key("moved", url)))
            if target is not None and target != url:
                known = self._known(target)
        return known

    def record_redirect(self, url: str, target: str) -> None:
        """Remember that ``url`` moved permanently to ``target``."""
        self.client.set(self._key("moved", url), target)

    def record_not_article(self, url: str, reason: str, crawl_id: str | None = None) -> None:
        """Remember the extraction's verdict that the page at ``url`` is no article."""
        values = {"reason": reason, "crawl_id": crawl_id, "recorded": datetime.now(UTC).isoformat()}
        self.client.hset(
            self._key("noart", url), mapping={k: v for k, v in values.items() if v is not None}
        )

    def listing_validators(self, url: str) -> tuple[str | None, str | None]:
        """Return the (ETag, Last-Modified) of a listing page whose links are stored."""
        etag, modified = self.client.hmget(self._key("listing", url), ("etag", "last_modified"))
        return _text(etag), _text(modified)

    def save_listing(
        self, url: str, etag: str | None, last_modified: str | None, links: list[str]
    ) -> None:
        """Store a listing page's links with its validators, in one transaction."""
        key = self._key("listing", url)
        links_key = self._key("links", url)
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(key, links_key)
        if links:
            pipe.sadd(links_key, *links)
        values = {"etag": etag, "last_modified": last_modified}
        pipe.hset(
            key,
            mapping={
                "stored": datetime.now(UTC).isoformat(),
                **{k: v for k, v in values.items() if v is not None},
            },
        )
        pipe.execute()

    def listing_links(self, url: str) -> list[str]:
        """Return the links stored for a listing page, sorted."""
        members: Any = self.client.smembers(self._key("links", url))
        return sorted(str(_text(m)) for m in members)
