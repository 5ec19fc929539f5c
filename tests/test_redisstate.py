"""The Redis crawl state answers exactly as the SQLite one, operation by operation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipelines.redisstate import RedisState
from pipelines.state import CrawlState, StateError, StateStore, Version, open_state

A = "https://news.test/2026/12/01/story.html?x=1"
B = "https://news.test/old-path"
L = "https://news.test/world/"


@pytest.fixture(params=["sqlite", "redis"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        store: StateStore = CrawlState(tmp_path / "state.sqlite")
    else:
        server = request.getfixturevalue("redis_db")
        store = open_state("redis", tmp_path / "unused", server.url)
        assert isinstance(store, RedisState)
    yield store
    store.close()


def test_fetches_versions_listings_and_redirects(state: StateStore) -> None:
    when = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert state.seen(A) is None and state.known_article(A) is None
    state.record_fetch(
        A,
        status=200,
        etag='"e1"',
        last_modified=None,
        payload_digest="sha1:AAA",
        record_id="<urn:uuid:1>",
        warc_uri="warc/x.warc.gz",
        warc_date="2026-12-01T10:00:00Z",
        when=when,
    )
    seen = state.seen(A)
    assert seen is not None
    assert (seen.status, seen.etag, seen.last_modified, seen.payload_digest) == (
        200,
        '"e1"',
        None,
        "sha1:AAA",
    )
    assert seen.first_seen == seen.last_fetch == when.isoformat()
    assert state.known_article(A) is None  # fetched, but no outcome recorded yet
    state.add_version(Version(A, 1, "t1", "2026-12-01", "c1", "<urn:uuid:1>"))
    state.add_version(Version(A, 2, "t2", "2026-12-02", "c2", "<urn:uuid:2>"))
    latest = state.latest_version(A)
    assert latest == Version(A, 2, "t2", "2026-12-02", "c2", "<urn:uuid:2>")
    known = state.known_article(A)
    assert known is not None and known.first_seen == when.isoformat()
    later = datetime(2026, 12, 2, tzinfo=UTC)
    state.record_fetch(
        A,
        status=304,
        etag=None,
        last_modified=None,
        payload_digest=None,
        record_id=None,
        warc_uri=None,
        warc_date=None,
        when=later,
    )
    seen = state.seen(A)
    assert seen is not None and seen.payload_digest == "sha1:AAA"
    assert seen.last_fetch == later.isoformat() and seen.first_seen == when.isoformat()
    state.record_redirect(B, A)
    moved = state.known_article(B)
    assert moved is not None and moved.url == A
    state.record_fetch(
        L,
        status=200,
        etag=None,
        last_modified="Mon, 30 Nov 2026 10:00:00 GMT",
        payload_digest="sha1:L",
        record_id="<urn:uuid:3>",
        warc_uri="w",
        warc_date="d",
    )
    state.record_not_article(L, "not an article: 12 characters", "c1")
    assert state.known_article(L) is not None
    state.save_listing(L, '"l1"', None, [A, B])
    assert state.listing_validators(L) == ('"l1"', None)
    assert state.listing_links(L) == sorted([A, B])
    state.save_listing(L, None, "Tue", [B])
    assert state.listing_validators(L) == (None, "Tue")
    assert state.listing_links(L) == [B]
    assert state.validators("https://news.test/feed.xml") == (None, None)
    state.save_validators({"https://news.test/feed.xml": ('"f"', None)})
    assert state.validators("https://news.test/feed.xml") == ('"f"', None)


def test_redis_state_refuses_a_bad_password_and_unknown_backends(
    redis_db: Any, tmp_path: Path
) -> None:
    bad = redis_db.url.replace(redis_db.password, "wrong")
    with pytest.raises(StateError, match="Redis state unusable"):
        open_state("redis", tmp_path, bad)
    with pytest.raises(StateError, match="NEWSWARC_REDIS_URL is not set"):
        open_state("redis", tmp_path, None)
    with pytest.raises(StateError, match="must be one of sqlite, redis"):
        open_state("postgres", tmp_path, None)
    redis_db.client().set("newswarc:state:schema", 99)
    with pytest.raises(StateError, match="schema 99"):
        open_state("redis", tmp_path, redis_db.url)
