"""Item pipeline that extracts each article in worker processes, off Scrapy's reactor."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DropItem, NotConfigured

from crawler.extensions import ArchiveExtension
from crawler.items import ArticlePage
from crawler.metrics import page_extracted
from pipelines.workerpool import (
    Outcome,
    WorkerPool,
    WorkFunction,
    extract_page,
    warm_up_extractor,
)

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.signalmanager import SignalManager
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

# What happened to workers (WorkerPool.take_events), as stats.
EVENT_STATS = {
    "stalled": "newswarc/errors/extract_stalled",
    "died": "newswarc/errors/extract_worker_died",
}


class ExtractionPipeline:
    """Turn :class:`ArticlePage` items into article records.

    Extraction costs tens of milliseconds of CPU per page and lxml is not thread-safe, so it runs
    in a :class:`WorkerPool` (``NEWSWARC_EXTRACT_WORKERS``, default: one per core; workers replaced
    every ``NEWSWARC_EXTRACT_MAX_TASKS_PER_CHILD`` pages; a page that holds its worker for
    ``NEWSWARC_EXTRACT_STALL_TIMEOUT`` seconds is retried once, then fails). Pages whose text is
    shorter than ``NEWSWARC_MIN_TEXT_CHARS`` are dropped as non-articles unless they were asked
    for by URL. A page whose extraction fails is dropped (its capture is already in the WARC) and
    counted by reason in ``newswarc/errors/extract_failed/<reason>``.
    """

    def __init__(
        self,
        stats: StatsCollector,
        crawl_id: str,
        *,
        workers: int,
        min_chars: int,
        max_tasks_per_child: int,
        stall_timeout: float = 120.0,
        work: WorkFunction = extract_page,
        warm_up: Callable[[], None] | None = warm_up_extractor,
        signals: SignalManager | None = None,
    ) -> None:
        self.stats = stats
        self.signals = signals  # page_extracted, for the metrics' extraction times
        self.crawl_id = crawl_id
        self.workers = workers
        self.min_chars = min_chars
        self.max_tasks_per_child = max_tasks_per_child
        self.stall_timeout = stall_timeout
        self.work = work
        self.warm_up = warm_up
        self._pool: WorkerPool | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractionPipeline:
        archive = crawler.get_extension(ArchiveExtension)
        if archive is None:
            raise NotConfigured("ArchiveExtension is not enabled")
        settings = crawler.settings
        assert crawler.stats is not None
        return cls(
            crawler.stats,
            archive.crawl_id,
            workers=settings.getint("NEWSWARC_EXTRACT_WORKERS") or os.cpu_count() or 1,
            min_chars=settings.getint("NEWSWARC_MIN_TEXT_CHARS", 400),
            max_tasks_per_child=settings.getint("NEWSWARC_EXTRACT_MAX_TASKS_PER_CHILD", 2000),
            stall_timeout=settings.getfloat("NEWSWARC_EXTRACT_STALL_TIMEOUT", 120.0),
            signals=crawler.signals,
        )

    def _new_pool(self) -> WorkerPool:
        return WorkerPool(
            self.work,
            warm_up=self.warm_up,
            workers=self.workers,
            max_tasks=self.max_tasks_per_child,
            stall_timeout=self.stall_timeout,
        )

    def open_spider(self) -> None:
        self._pool = self._new_pool()

    def close_spider(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._count_events(self._pool)
            self._pool = None

    def _count_events(self, pool: WorkerPool) -> None:
        for event, count in pool.take_events().items():
            self.stats.inc_value(EVENT_STATS[event], count)

    async def _run(self, item: ArticlePage) -> Outcome:
        pool = self._pool
        assert pool is not None
        if not pool.alive:  # its thread failed (logged there): start a new one
            pool = self._pool = self._new_pool()
        try:
            return await asyncio.wrap_future(pool.submit(item.body, item.url, item.content_type))
        finally:
            self._count_events(pool)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticlePage):
            return item
        started = time.monotonic()
        status, result = await self._run(item)
        if self.signals is not None:
            self.signals.send_catch_log(
                page_extracted, seconds=time.monotonic() - started, status=status
            )
        if status == "error":
            reason, message = result
            self.stats.inc_value(f"newswarc/errors/extract_failed/{reason}")
            logger.error("Extraction failed on %s (%s): %s", item.url, reason, message)
            raise DropItem(f"extraction failed on {item.url}: {message}")
        chars = len(result["text"]) if result else 0
        if result is None or (not item.forced and chars < self.min_chars):
            self.stats.inc_value("newswarc/skipped/too_short")
            raise DropItem(f"not an article: {chars} characters of text", log_level="INFO")
        return {
            "url": item.url,
            "requested_url": item.requested_url,
            **result,
            "fetched_at": item.fetched_at,
            "status": item.status,
            "crawl_id": self.crawl_id,
            "warc": item.warc,
            "quality": {**result["quality"], "signals": item.signals},
        }
