"""The worker pool, with real worker processes: recycling under a backlog, deaths and stalls."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

from pipelines.workerpool import Outcome, WorkerPool, extract_page

SAFETY = 120  # seconds: a safety net for a hung test, never a measure


def misbehave(body: bytes, url: str, content_type: str | None) -> Outcome:
    """Run in a worker: misbehave as the URL says, or extract the page.

    ``/hang`` never answers, ``/die`` exits the worker, ``/die-once`` exits it the first time
    only (the body names a marker file), ``/raise`` raises, ``/echo`` answers with the worker's
    process id without extracting; any other page is extracted.
    """
    if "/hang" in url:
        time.sleep(3600)
    if "/die-once" in url:
        marker = Path(body.decode())
        if not marker.exists():
            marker.touch()
            os._exit(3)
    elif "/die" in url:
        os._exit(3)
    if "/raise" in url:
        raise ValueError("a page the extractor cannot take")
    if "/echo" in url:
        return "ok", {"url": url, "pid": os.getpid()}
    return extract_page(body, url, content_type)


def broken_warm_up() -> None:
    """Run in a worker: fail as a broken install would."""
    raise ImportError("a broken install")


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


@pytest.fixture
def make_pool() -> Iterator[object]:
    pools: list[WorkerPool] = []

    def make(**kwargs: object) -> WorkerPool:
        options: dict[str, object] = {"workers": 2, "max_tasks": 0, "stall_timeout": 60.0}
        options["warm_up"] = None  # workers do not import trafilatura unless a test needs it
        pool = WorkerPool(misbehave, **{**options, **kwargs})  # type: ignore[arg-type]
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        if pool.alive:
            pool.close()


def results(futures: list[Future[Outcome]]) -> list[Outcome]:
    return [f.result(timeout=SAFETY) for f in futures]


def test_recycling_every_few_pages_with_a_backlog_loses_nothing(make_pool) -> None:  # type: ignore[no-untyped-def]
    pool = make_pool(workers=2, max_tasks=10)
    urls = [f"https://news.example/echo/{n}" for n in range(300)]
    # All submitted at once: the backlog waits while workers retire and new ones start.
    outcomes = results([pool.submit(b"", url, None) for url in urls])
    assert [status for status, _ in outcomes] == ["ok"] * len(urls)
    assert [fields["url"] for _, fields in outcomes] == urls
    per_worker = Counter(fields["pid"] for _, fields in outcomes)
    assert max(per_worker.values()) <= 10
    assert len(per_worker) >= 30
    assert pool.take_events() == {}  # no worker died or stalled: they retired
    pool.close()
    assert not [pid for pid in per_worker if alive(pid)]


def test_a_page_that_hangs_its_worker_is_retried_once_then_fails_as_timeout(make_pool) -> None:  # type: ignore[no-untyped-def]
    pool = make_pool(workers=2, stall_timeout=3.0)
    urls = [f"https://news.example/echo/{n}" for n in range(20)]
    urls[5:5] = ["https://news.example/hang"]
    outcomes = dict(zip(urls, results([pool.submit(b"", url, None) for url in urls]), strict=True))
    status, (reason, message) = outcomes.pop("https://news.example/hang")
    assert (status, reason) == ("error", "timeout")
    assert "2 times" in message
    assert {status for status, _ in outcomes.values()} == {"ok"}
    assert pool.take_events() == {"stalled": 2}
    # The hung workers were killed and replaced: the pool still answers.
    assert results([pool.submit(b"", "https://news.example/echo/after", None)])[0][0] == "ok"


def test_a_worker_that_dies_is_replaced_and_its_page_retried_once(  # type: ignore[no-untyped-def]
    make_pool, tmp_path: Path
) -> None:
    pool = make_pool(workers=2)
    marker = str(tmp_path / "died-once").encode()
    pages = [(b"", f"https://news.example/echo/{n}") for n in range(20)]
    pages[3:3] = [(b"", "https://news.example/die")]
    pages[10:10] = [(marker, "https://news.example/die-once")]
    outcomes = dict(
        zip(
            [url for _, url in pages],
            results([pool.submit(body, url, None) for body, url in pages]),
            strict=True,
        )
    )
    status, (reason, _) = outcomes.pop("https://news.example/die")
    assert (status, reason) == ("error", "worker_died")
    assert outcomes.pop("https://news.example/die-once")[0] == "ok"  # second try, new worker
    assert {status for status, _ in outcomes.values()} == {"ok"}
    assert pool.take_events() == {"died": 3}


def test_an_exception_fails_its_page_by_class_and_keeps_the_worker(make_pool) -> None:  # type: ignore[no-untyped-def]
    pool = make_pool(workers=1)
    before, failed, after = results(
        [pool.submit(b"", f"https://news.example/{p}", None) for p in ("echo/1", "raise", "echo/2")]
    )
    assert failed == ("error", ("ValueError", "ValueError: a page the extractor cannot take"))
    assert before[1]["pid"] == after[1]["pid"]
    assert pool.take_events() == {}


def test_close_finishes_the_backlog_and_stops_every_worker(make_pool) -> None:  # type: ignore[no-untyped-def]
    pool = make_pool(workers=2)
    futures = [pool.submit(b"", f"https://news.example/echo/{n}", None) for n in range(50)]
    pool.close()
    assert all(f.done() and f.result()[0] == "ok" for f in futures)
    pids = {f.result()[1]["pid"] for f in futures}
    assert pids and not [pid for pid in pids if alive(pid)]
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(b"", "https://news.example/echo/late", None)


def test_workers_that_cannot_start_fail_the_pages_instead_of_hanging(make_pool) -> None:  # type: ignore[no-untyped-def]
    pool = make_pool(warm_up=broken_warm_up)
    outcomes = results([pool.submit(b"", f"https://news.example/echo/{n}", None) for n in (1, 2)])
    assert outcomes == [("error", ("worker_start", "no extraction worker could start"))] * 2
    assert pool.take_events()["died"] >= 3
