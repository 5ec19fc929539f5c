"""``newswarc state rebuild``: the state rebuilt from the archive answers as the crawl's own."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipelines.state import CrawlState, StateStore, open_state

NEWSWARC = str(Path(sys.executable).parent / "newswarc")


def _urls(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT url FROM urls ORDER BY url")]


def _same(original: CrawlState, rebuilt: StateStore, urls: list[str]) -> None:
    for url in urls:
        before, after = original.seen(url), rebuilt.seen(url)
        assert after is not None, url
        assert (after.status, after.etag, after.last_modified) == (
            before.status,  # type: ignore[union-attr]
            before.etag,  # type: ignore[union-attr]
            before.last_modified,  # type: ignore[union-attr]
        ), url
        assert after.payload_digest == before.payload_digest, url  # type: ignore[union-attr]
        assert after.record_id == before.record_id, url  # type: ignore[union-attr]
        assert after.warc_uri == before.warc_uri, url  # type: ignore[union-attr]
        assert rebuilt.latest_version(url) == original.latest_version(url), url


@pytest.mark.e2e
def test_rebuilt_state_matches_the_crawls_in_sqlite_and_redis(
    local_crawl: Any, redis_db: Any, tmp_path: Path
) -> None:
    archive: Path = local_crawl["archive"]
    original_path = archive / ".spool" / ".crawlstate.sqlite"
    urls = _urls(original_path)
    original = CrawlState(original_path)
    versions = [u for u in urls if original.latest_version(u) is not None]
    assert len(urls) >= 10 and len(versions) >= 5
    rebuilt_path = tmp_path / "rebuilt.sqlite"
    done = subprocess.run(
        [NEWSWARC, "state", "rebuild", str(archive), "--path", str(rebuilt_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{len(versions)} article versions" in done.stdout
    rebuilt = CrawlState(rebuilt_path)
    _same(original, rebuilt, urls)
    # Known articles stay known: the next run skips them as it would have.
    for url in versions:
        assert rebuilt.known_article(url) is not None
    done = subprocess.run(
        [NEWSWARC, "state", "rebuild", str(archive), "--backend", "redis"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={"NEWSWARC_REDIS_URL": redis_db.url, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    in_redis = open_state("redis", tmp_path, redis_db.url)
    _same(original, in_redis, urls)
    original.close()
