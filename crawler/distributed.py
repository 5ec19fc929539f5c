"""Distributed crawl on scrapy-redis: the switch, the worker's Redis link, seeding and idling."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import redis
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from twisted.internet import task

from crawler.extensions import ArchiveConfigError, ArchiveExtension
from crawler.redaction import without_userinfo
from crawler.redisqueue import LeaseScheduler, worker_identity
from pipelines.redisstate import patient_client

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

#: The scheduler that marks a crawler as distributed.
SCHEDULER = "crawler.redisqueue.LeaseScheduler"
_SKIP = frozenset({"NEWSWARC_REDIS_URL"})


class DistributedAddon:
    """Add-on: ``NEWSWARC_REDIS_URL`` set switches any environment to distributed wiring.

    The wiring is ``settings/distributed.py``'s, whichever settings module the crawl runs with.

    Only what ``settings.distributed`` changes from ``settings.base`` is applied; component
    dicts are merged key by key, so an environment's own additions stay.
    """

    def update_settings(self, settings: BaseSettings) -> None:
        if not settings.get("NEWSWARC_REDIS_URL") or settings.get("SCHEDULER") == SCHEDULER:
            return
        import settings.distributed as dist
        from settings import base

        for name in dir(dist):
            if not name.isupper() or name in _SKIP:
                continue
            value = getattr(dist, name)
            before = getattr(base, name, None)
            if value == before:
                continue
            if isinstance(value, dict):
                before = before or {}
                merged = dict(settings.getdict(name))
                merged.update({k: v for k, v in value.items() if before.get(k) != v})
                settings.set(name, merged, priority="project")
            elif (settings.getpriority(name) or 0) == 0 or (
                hasattr(base, name) and settings.get(name) == before
            ):
                # Left at Scrapy's default or at base's value by the environment module.
                settings.set(name, value, priority="project")


def redis_client(url: str, timeout: float = 10.0) -> redis.Redis:
    """Return a client of the Redis at ``url`` (``redis://[:password@]host:port/db``)."""
    return redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=None
    )


def run_name(arguments: dict[str, str]) -> str:
    """Name a run by what it crawls: workers started with the same arguments share it."""
    text = json.dumps(sorted(arguments.items()))
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:12]


class RedisWorker:
    """One worker of a distributed crawl: its Redis link, its run, its leases and its idling.

    A run is named by ``NEWSWARC_REDIS_RUN``, or else by the spider's arguments. The first
    worker of a run seeds it (the spider's start requests go into the shared queue); the others
    take work from the queue. Leases are renewed every third of ``NEWSWARC_REDIS_LEASE_TIMEOUT``
    and run-out ones put back. A worker closes once nothing is queued or leased anywhere and the
    seed is done (``NEWSWARC_REDIS_CLOSE_WHEN_DONE``), or idles until stopped; the last one out
    forgets the run's seen set, so the next scheduled run starts fresh (the crawl state, not the
    seen set, skips known articles).
    """

    def __init__(self, crawler: Crawler, server: redis.Redis, url: str, run: str) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.server = server
        self.url = url
        self.run = run
        self.root = str(settings.get("NEWSWARC_REDIS_PREFIX") or "newswarc")
        self.prefix = f"{self.root}:run:{run}"
        self.seed_key = f"{self.prefix}:seed"
        self.workers_key = f"{self.prefix}:workers"
        self.instance_key = f"{self.prefix}:instance"
        self.instance: str | None = None
        self.worker = worker_identity()
        self.lease_timeout = settings.getfloat("NEWSWARC_REDIS_LEASE_TIMEOUT", 60.0)
        self.poll_interval = settings.getfloat("NEWSWARC_REDIS_POLL_INTERVAL", 1.0)
        self.close_when_done = settings.getbool("NEWSWARC_REDIS_CLOSE_WHEN_DONE", True)
        self.scheduler: LeaseScheduler | None = None
        self.seeding = False
        self._heartbeat = task.LoopingCall(self.heartbeat)
        self._poll = task.LoopingCall(self.poll)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedisWorker:
        settings = crawler.settings
        url = settings.get("NEWSWARC_REDIS_URL")
        if not url:
            raise NotConfigured
        shown = without_userinfo(str(url))
        try:
            # Checked once without retries: an unreachable Redis at start is a config error.
            redis_client(str(url)).ping()
            server = patient_client(str(url), settings.getfloat("NEWSWARC_REDIS_PATIENCE", 120.0))
        except (ValueError, redis.RedisError) as exc:
            logger.critical(
                "newswarc: NEWSWARC_REDIS_URL %s unusable, crawl not started: %s", shown, exc
            )
            raise ArchiveConfigError(str(exc)) from None
        spider = crawler.spider
        run = settings.get("NEWSWARC_REDIS_RUN") or run_name(getattr(spider, "newswarc_args", {}))
        worker = cls(crawler, server, str(url), str(run))
        crawler.signals.connect(worker.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(worker.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(worker.spider_closed, signal=signals.spider_closed)
        logger.info("newswarc worker %s of run %s at %s", worker.worker, run, shown)
        return worker

    # -- seeding ------------------------------------------------------------------------

    def claim_seed(self) -> bool:
        """Become the run's seeder unless another worker is or was."""
        ttl = max(1, int(self.lease_timeout * 3))
        self.seeding = bool(
            self.server.set(self.seed_key, f"seeding:{self.worker}", nx=True, ex=ttl)
        )
        if self.seeding:
            # Names this run of the arguments, so its workers' crawls are listed as one.
            archive = self.crawler.get_extension(ArchiveExtension)
            self.instance = archive.crawl_id if archive is not None else self.worker
            self.server.set(self.instance_key, self.instance)
        else:
            self._read_instance()
        return self.seeding

    def _read_instance(self) -> None:
        if self.instance is None:
            value = self.server.get(self.instance_key)
            self.instance = value.decode() if isinstance(value, bytes) else value

    def seeded(self) -> None:
        """Every start request is in the queue."""
        self.seeding = False
        self.server.set(self.seed_key, "seeded")

    # -- lifecycle ----------------------------------------------------------------------

    def spider_opened(self) -> None:
        archive = self.crawler.get_extension(ArchiveExtension)
        parts = getattr(archive, "manifest_parts", None)
        if parts is not None:
            parts.append(self.manifest_part)
        beat = min(max(self.lease_timeout / 3, 0.2), 10.0)
        self._heartbeat.start(beat, now=True)
        self._poll.start(self.poll_interval, now=False)

    def manifest_part(self) -> dict[str, Any]:
        """Return the run and worker of this crawl, for the manifest (one run, worker rows)."""
        return {
            "distributed": {
                "run": self.run,
                "instance": self.instance,
                "worker": self.worker,
                "prefix": self.prefix,
            }
        }

    def heartbeat(self) -> None:
        """Renew leases, put run-out ones back, and say this worker is alive."""
        try:
            if self.seeding:
                self.server.expire(self.seed_key, max(1, int(self.lease_timeout * 3)))
            self._read_instance()
            if self.scheduler is not None and getattr(self.scheduler, "queue", None) is not None:
                self.scheduler.renew()
            stats = self.crawler.stats
            pages = stats.get_value("downloader/response_count", 0) if stats else 0
            archive = self.crawler.get_extension(ArchiveExtension)
            row = {
                "crawl_id": archive.crawl_id if archive else None,
                "seen": time.time(),
                "pages": pages,
                "leases": len(self.scheduler.held) if self.scheduler else 0,
            }
            self.server.hset(self.workers_key, self.worker, json.dumps(row))
        except redis.RedisError as exc:
            logger.warning("newswarc: Redis heartbeat failed (%s); retrying", exc)

    def poll(self) -> None:
        """Let the engine ask the queue for work now, not at its next 5 s heartbeat."""
        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None and slot.closing is None:
            slot.nextcall.schedule()

    def pending(self) -> bool:
        """Tell whether any worker may still add work to the run."""
        pipe = self.server.pipeline(transaction=False)
        pipe.get(self.seed_key)
        seed = pipe.execute()[0]
        if seed is not None and seed.startswith(b"seeding"):
            return True
        if self.scheduler is None:
            return False
        queued, leased = self.scheduler.queue.counts()
        return bool(queued or leased)

    def spider_idle(self) -> None:
        if self.pending() or not self.close_when_done:
            raise DontCloseSpider

    def spider_closed(self, reason: str) -> None:
        for call in (self._heartbeat, self._poll):
            if call.running:
                call.stop()
        try:
            self.server.hdel(self.workers_key, self.worker)
            if reason == "finished" and not self.pending():
                # The run is over: its seen set goes, so the next run of these arguments
                # starts fresh.
                self.server.delete(
                    f"{self.prefix}:dupefilter", self.seed_key, self.workers_key, self.instance_key
                )
                self.server.hdel(f"{self.root}:active", self.run)  # `newswarc enqueue` may again
        except redis.RedisError as exc:
            logger.warning("newswarc: Redis unreachable at close (%s)", exc)


class SeedOnce:
    """Spider middleware: only the run's seeder sends the spider's start requests."""

    def __init__(self, worker: RedisWorker) -> None:
        self.worker = worker

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SeedOnce:
        worker = crawler.get_extension(RedisWorker)
        if worker is None:
            raise NotConfigured
        return cls(worker)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        if not self.worker.claim_seed():
            logger.info(
                "Run %s is seeded by another worker: taking work from Redis", self.worker.run
            )
            return
        async for item in start:
            yield item
        self.worker.seeded()
