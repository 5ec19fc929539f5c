"""The extraction pipeline: results, short pages, dead and stalled workers, failures by reason."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from crawler.items import ArticlePage
from pipelines.extraction import ExtractionPipeline
from pipelines.workerpool import Outcome, extract_page
from tests.archivecheck import responses
from tests.crawlrun import read_jsonl_gz, run_crawl
from tests.test_workerpool import misbehave

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


def test_failures_are_counted_by_reason_and_the_other_pages_go_through() -> None:
    crawler = get_crawler(settings_dict={})
    pipeline = ExtractionPipeline(
        crawler.stats,
        "crawl-1",
        workers=2,
        min_chars=400,
        max_tasks_per_child=4,
        stall_timeout=3.0,
        work=misbehave,  # warms up as in production: a worker is timed from its first page
    )
    good = [str(p.relative_to(PAGES)) for p in sorted(PAGES.glob("ar/**/*.html"))] * 2
    bad = {"/hang": "timeout", "/die": "worker_died", "/raise": "ValueError"}

    def item(path: str) -> ArticlePage:
        real = page("/" + good[0])
        real.url = real.requested_url = "https://news.example" + path
        return real

    async def run() -> list[object]:
        items = [page("/" + p) for p in good]
        for n, path in enumerate(bad):
            items.insert(2 * n + 1, item(path))
        tasks = [asyncio.ensure_future(pipeline.process_item(i)) for i in items]
        return await asyncio.gather(*tasks, return_exceptions=True)

    pipeline.open_spider()
    try:
        results = asyncio.run(run())
    finally:
        pipeline.close_spider()
    records = [r for r in results if isinstance(r, dict)]
    dropped = [str(r) for r in results if isinstance(r, DropItem)]
    assert len(records) == len(good) and all(r["text"] for r in records)
    assert len(dropped) == len(bad) and len(results) == len(good) + len(bad)
    for path in bad:
        assert any(path in d and "extraction failed" in d for d in dropped), (path, dropped)
    stats = crawler.stats.get_stats()
    failed = {k: v for k, v in stats.items() if k.startswith("newswarc/errors/extract_failed")}
    assert failed == {f"newswarc/errors/extract_failed/{reason}": 1 for reason in bad.values()}
    assert stats["newswarc/errors/extract_stalled"] == 2
    assert stats["newswarc/errors/extract_worker_died"] == 2


HANG_PATH = "/news/2026/11/27/port-strike-talks-collapse.html"


def hang_on(path: str, body: bytes, url: str, content_type: str | None) -> Outcome:
    """Run in a worker: hang on the page at ``path``, extract the others."""
    if url.endswith(path):
        time.sleep(3600)
    return extract_page(body, url, content_type)


class HangingExtraction(ExtractionPipeline):
    """The extraction pipeline whose workers hang on one page, for the crawl test below."""

    @classmethod
    def from_crawler(cls, crawler: Any) -> ExtractionPipeline:
        pipeline = super().from_crawler(crawler)
        pipeline.work = functools.partial(hang_on, HANG_PATH)
        return pipeline


def test_a_page_that_hangs_extraction_is_archived_counted_and_the_crawl_ends(
    news_site: Any, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    pipelines = {"tests.test_extraction.HangingExtraction": 300}
    pipelines["pipelines.articles.ArticleBatchPipeline"] = 800
    result = run_crawl(
        tmp_path,
        ["-a", f"start_urls={news_site.base_url}/"],
        {
            "NEWSWARC_ARCHIVE_URI": str(archive),
            "NEWSWARC_EXTRACT_STALL_TIMEOUT": 3,
            "ITEM_PIPELINES": json.dumps(pipelines),
        },
        timeout=240,  # a safety net: the crawl must end by itself
    )
    assert result.returncode == 0, result.log[-3000:]
    assert "Extraction stalled: no result for" in result.log
    (manifest,) = [json.loads(p.read_text()) for p in archive.glob("crawls/*.json")]
    assert manifest["errors"]["extract_stalled"] == 2
    assert manifest["errors"]["extract_failed/timeout"] == 1
    # The page stays in the WARC; the other articles are written.
    captured = [r["url"] for w in archive.glob("warc/**/*.warc.gz") for r in responses(w)]
    assert news_site.base_url + HANG_PATH in captured
    urls = {r["url"] for f in archive.glob("articles/**/*.jsonl.gz") for r in read_jsonl_gz(f)}
    assert news_site.base_url + HANG_PATH not in urls
    assert manifest["counts"]["articles_written"] == len(urls) >= 5
