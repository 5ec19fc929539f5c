"""Shared fixtures: the local test news site and a real SeaweedFS S3 server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.s3server import SeaweedS3


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    server = SeaweedS3(tmp_path_factory.mktemp("seaweedfs")).start()
    yield server
    server.stop()


@pytest.fixture
def s3(s3_server: SeaweedS3) -> SeaweedS3:
    """The S3 server, started again if a test stopped it."""
    if s3_server.proc is None:
        s3_server.start()
    return s3_server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real Redis server (Debian's redis-server, AOF on) on 127.0.0.1 for the session."""
    from tests.redisserver import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_db(redis_server: Any) -> Any:
    """The Redis server, started again if a test stopped it, and emptied."""
    if redis_server.proc is None:
        redis_server.start()
    redis_server.flush()
    return redis_server


@pytest.fixture(scope="session")
def news_site() -> Iterator[Any]:
    from tests.site import NewsSite

    site = NewsSite().start()
    yield site
    site.stop()


@pytest.fixture(scope="session")
def local_crawl(news_site: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One crawl of the whole test site into a local folder, shared by read-only tests."""
    from tests.crawlrun import run_crawl

    tmp = tmp_path_factory.mktemp("local-crawl")
    archive = tmp / "archive"
    result = run_crawl(
        tmp,
        ["-a", f"start_urls={news_site.base_url}/"],
        {"NEWSWARC_ARCHIVE_URI": str(archive)},
    )
    assert result.returncode == 0, result.log[-3000:]
    return {"archive": archive, "result": result, "site": news_site}


@pytest.fixture(scope="session")
def tools_bin() -> Any:
    """The bin folder of the pywb/wacz tools venv (``make tools`` builds it)."""
    import os
    from pathlib import Path

    folder = Path(
        os.environ.get("NEWSWARC_TOOLS") or Path(__file__).parent.parent / ".venv-pywb/bin"
    )
    if not (folder / "wayback").exists():
        pytest.fail(f"pywb tools not found in {folder}: run `make tools`")
    return folder
