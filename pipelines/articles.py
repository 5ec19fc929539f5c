"""Item pipeline that writes article records to gzipped JSON Lines batches in the archive."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future

from crawler.extensions import ArchiveExtension
from pipelines.spool import GzipMembers, SpoolFile
from pipelines.state import Version

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector


class ArticleBatchPipeline:
    """Append each record as one gzip member to ``articles/YYYY/MM/DD/<crawl_id>-<batch>.jsonl.gz``.

    A batch closes after ``NEWSWARC_ARTICLES_BATCH_ITEMS`` records,
    ``NEWSWARC_ARTICLES_BATCH_BYTES`` bytes or ``NEWSWARC_ARTICLES_BATCH_AGE`` seconds, and takes
    the same spool and upload path as WARC files, so a killed crawl loses no record it wrote.
    """

    def __init__(
        self,
        archive: ArchiveExtension,
        stats: StatsCollector,
        *,
        max_items: int,
        max_bytes: int,
        max_age: float,
    ) -> None:
        self.archive = archive
        self.stats = stats
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.max_age = max_age
        self._file: SpoolFile | None = None
        self._gz: GzipMembers | None = None
        self._items = 0
        self._opened = 0.0
        self._batch = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArticleBatchPipeline:
        archive = crawler.get_extension(ArchiveExtension)
        if archive is None:
            raise NotConfigured("ArchiveExtension is not enabled")
        settings = crawler.settings
        assert crawler.stats is not None
        pipeline = cls(
            archive,
            crawler.stats,
            max_items=settings.getint("NEWSWARC_ARTICLES_BATCH_ITEMS", 1000),
            max_bytes=settings.getint("NEWSWARC_ARTICLES_BATCH_BYTES", 64 * 1024 * 1024),
            max_age=settings.getfloat("NEWSWARC_ARTICLES_BATCH_AGE", 600.0),
        )
        archive.add_ticker(pipeline.roll_if_stale)
        return pipeline

    def _open(self) -> None:
        now = datetime.now(UTC)
        key = f"articles/{now:%Y/%m/%d}/{self.archive.crawl_id}-{self._batch:05d}.jsonl.gz"
        self._batch += 1
        self._file = SpoolFile(self.archive.spool, key, "application/jsonl")
        self._gz = GzipMembers(self._file, 6)
        self._items = 0
        self._opened = time.monotonic()

    def _close(self) -> None:
        if self._file is None:
            return
        if self._file.size == 0:  # every write failed: nothing to publish
            self._file.abandon()
            self._file = self._gz = None
            return
        closed = self._file.close()
        self._file = self._gz = None
        self.archive.publish(closed)

    def roll_if_stale(self) -> None:
        """Close the open batch once it is older than the age limit (periodic timer)."""
        if self._file is not None and time.monotonic() - self._opened >= self.max_age:
            self._close()

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, dict) or "text" not in item:
            return item
        state = self.archive.state
        # A shared state that cannot answer now (Redis away) says when it can: the version is
        # decided then, so an article archived before never gets a second version 1. The
        # capture is in the WARC already; only this record waits.
        ready = getattr(state, "ready", None)
        waiting = ready() if ready is not None else None
        if waiting is not None:
            self.stats.inc_value("newswarc/articles/waited_for_state")
            await maybe_deferred_to_future(waiting)
        previous = state.latest_version(item["url"])
        if previous is not None and previous.text_sha1 == item["text_sha1"]:
            self.stats.inc_value("newswarc/articles/unchanged")
            raise DropItem("unchanged text: no new version", log_level="INFO")
        item["version"] = previous.version + 1 if previous else 1
        item["previous"] = (
            {
                "version": previous.version,
                "text_sha1": previous.text_sha1,
                "fetched_at": previous.fetched_at,
                "crawl_id": previous.crawl_id,
                "record_id": previous.record_id,
            }
            if previous
            else None
        )
        if self._file is None:
            self._open()
        assert self._file is not None and self._gz is not None
        line = json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n"
        start = self._file.tell()
        try:
            self._gz.write(line.encode("utf-8"))
            self._gz.flush()
        except BaseException:
            # Keep the batch valid: cut back to its last whole record.
            self._gz.discard()
            self._file.truncate(start)
            raise
        self._items += 1
        self.stats.inc_value("newswarc/articles/written")
        self.stats.inc_value("newswarc/articles/" + ("updated" if previous else "new"))
        warc = item.get("warc") or {}
        state.add_version(
            Version(
                item["url"],
                item["version"],
                item["text_sha1"],
                item.get("fetched_at"),
                item.get("crawl_id"),
                warc.get("record_id"),
            )
        )
        if self._items >= self.max_items or self._file.size >= self.max_bytes:
            self._close()
        return item

    def close_spider(self) -> None:
        self._close()
