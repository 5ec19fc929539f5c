"""Item pipeline that extracts each article in worker processes, off Scrapy's reactor."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DropItem, NotConfigured

from crawler.extensions import ArchiveExtension
from crawler.items import ArticlePage
from pipelines.extract import extract_article, extractor_options

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


def _exit_with_parent(parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            # The crawl was killed (SIGKILL gives it no chance to stop us): do not linger.
            os._exit(1)


def _warm_up(parent: int) -> None:
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    # Import trafilatura and build its options before the first page arrives.
    extractor_options()


def _extract(body: bytes, url: str, content_type: str | None) -> tuple[str, Any]:
    """Run in a worker: return ("ok", fields), ("empty", None) or ("error", message)."""
    try:
        fields = extract_article(body, url, content_type=content_type)
    except Exception as exc:  # a broken page must not kill the worker
        return "error", f"{type(exc).__name__}: {exc}"
    return ("ok", fields) if fields else ("empty", None)


class ExtractionPipeline:
    """Turn :class:`ArticlePage` items into article records.

    Extraction costs tens of milliseconds of CPU per page and lxml is not thread-safe, so it runs
    in a pool of worker processes (``NEWSWARC_EXTRACT_WORKERS``, default: one per core). Pages whose
    text is shorter than ``NEWSWARC_MIN_TEXT_CHARS`` are dropped as non-articles unless they were
    asked for by URL.
    """

    def __init__(
        self,
        stats: StatsCollector,
        crawl_id: str,
        *,
        workers: int,
        min_chars: int,
        max_tasks_per_child: int,
    ) -> None:
        self.stats = stats
        self.crawl_id = crawl_id
        self.workers = workers
        self.min_chars = min_chars
        self.max_tasks_per_child = max_tasks_per_child
        self._pool: ProcessPoolExecutor | None = None

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
        )

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: forking a process that runs a reactor and threads is unsafe.
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_warm_up,
            initargs=(os.getpid(),),
            max_tasks_per_child=self.max_tasks_per_child or None,
        )

    def open_spider(self) -> None:
        self._pool = self._new_pool()

    def close_spider(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=False)
            self._pool = None

    async def _run(self, item: ArticlePage) -> tuple[str, Any]:
        """Extract in the pool; if a worker dies, replace the pool once and try again once."""
        for attempt in (1, 2):
            pool = self._pool
            assert pool is not None
            try:
                return await asyncio.wrap_future(
                    pool.submit(_extract, item.body, item.url, item.content_type)
                )
            except BrokenProcessPool:
                # A worker died (out of memory, a crash in C code). Every page in flight sees
                # this; only the first replaces the pool, the others just resubmit.
                if self._pool is pool:
                    logger.error("Extraction worker died (on %s); restarting the pool", item.url)
                    pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = self._new_pool()
                    self.stats.inc_value("newswarc/errors/extract_worker_died")
                if attempt == 2:
                    break
        return "error", "extraction worker died twice on this page"

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticlePage):
            return item
        status, result = await self._run(item)
        if status == "error":
            self.stats.inc_value("newswarc/errors/extract_failed")
            logger.error("Extraction failed on %s: %s", item.url, result)
            raise DropItem(f"extraction failed on {item.url}: {result}")
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
