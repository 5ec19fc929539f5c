"""The extraction pipeline's worker processes: results, short pages, and a worker that dies."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from crawler.items import ArticlePage
from pipelines.extraction import ExtractionPipeline

PAGES = Path(__file__).parent / "fixtures/site/pages"


def page(path: str, *, forced: bool = False) -> ArticlePage:
    return ArticlePage(
        url="https://news.example" + path,
        requested_url="https://news.example" + path,
        status=200,
        body=(PAGES / path.lstrip("/")).read_bytes(),
        content_type="text/html; charset=utf-8",
        fetched_at="2026-11-29T12:00:00+00:00",
        forced=forced,
    )


@pytest.fixture
def pipeline():  # type: ignore[no-untyped-def]
    crawler = get_crawler(settings_dict={})
    p = ExtractionPipeline(
        crawler.stats, "crawl-1", workers=2, min_chars=400, max_tasks_per_child=0
    )
    p.open_spider()
    yield p
    p.close_spider()


def test_records_and_drops(pipeline: ExtractionPipeline) -> None:
    async def run() -> tuple[object, object]:
        record = await pipeline.process_item(page("/ar/2026/11/28/123456.html"))
        with pytest.raises(DropItem, match="not an article"):
            await pipeline.process_item(page("/news/2026/11/25/big-photo-gallery.html"))
        forced = await pipeline.process_item(
            page("/news/2026/11/25/big-photo-gallery.html", forced=True)
        )
        return record, forced

    record, forced = asyncio.run(run())
    assert isinstance(record, dict) and record["crawl_id"] == "crawl-1"
    assert record["language"] == "ar" and record["text"]
    assert isinstance(forced, dict)  # asked for by URL: kept although short


def test_a_killed_worker_loses_no_page(pipeline: ExtractionPipeline) -> None:
    paths = [str(p.relative_to(PAGES)) for p in sorted(PAGES.glob("ar/**/*.html"))] * 3

    async def run() -> list[object]:
        tasks = [asyncio.ensure_future(pipeline.process_item(page("/" + p))) for p in paths]
        pool = pipeline._pool
        assert pool is not None
        deadline = time.monotonic() + 60  # a safety net, not a measure
        while not all(t.done() for t in tasks[:1]) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # workers up and extracting
        os.kill(pool.pids()[0], signal.SIGKILL)
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(run())
    assert all(isinstance(r, dict) for r in results), [
        r for r in results if not isinstance(r, dict)
    ]
    assert pipeline.stats.get_value("newswarc/errors/extract_worker_died") == 1
