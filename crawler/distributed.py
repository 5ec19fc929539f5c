"""Distributed crawl on scrapy-redis: the switch, the worker's Redis link, seeding and idling."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

import redis
from redis.backoff import NoBackoff
from redis.connection import Connection
from redis.retry import Retry
from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure

from crawler.extensions import ArchiveConfigError, ArchiveExtension
from crawler.redaction import without_userinfo
from crawler.redisqueue import LeaseScheduler, worker_identity
from pipelines.state import Version

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


_DOWN_ERRORS = (redis.ConnectionError, redis.TimeoutError)


class CountingConnection(Connection):
    """A Redis connection that counts its round trips (a pipeline is one) for this process."""

    #: Commands or pipelines sent by this process's worker clients.
    sent: ClassVar[int] = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sent += 1
        super().send_packed_command(command, check_health)


def fast_client(url: str, timeout: float = 10.0, connect_timeout: float = 2.0) -> redis.Redis:
    """Return a client that fails at once when Redis is unreachable (it never sleeps).

    One immediate retry on a fresh connection covers a pooled connection that a Redis
    restart closed; any longer wait is :class:`RedisLink`'s, through the reactor.
    """
    extra: dict[str, Any] = {}
    if url.startswith("redis://"):  # (rediss:// keeps its TLS connection class)
        extra["connection_class"] = CountingConnection
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=connect_timeout,
        retry=Retry(NoBackoff(), 1),
        retry_on_error=list(_DOWN_ERRORS),
        **extra,
    )


class RedisLink:
    """Whether the worker's Redis answers; while it does not, probes it through the reactor.

    The worker's Redis clients do not retry (:func:`fast_client`): a command that finds Redis
    unreachable raises at once, its caller reports it here (:meth:`failed`) and does without
    Redis until :meth:`wait_up` fires. Meanwhile a PING in a thread (never in the reactor,
    so downloads in flight go on) is tried with back-off, 50 ms doubling to 2 s; writes that
    can wait (acknowledgements, slot releases, queue pushes, state writes) are kept in order
    (:meth:`later`) and sent once Redis answers, before anything else. After ``patience``
    seconds without an answer ``on_give_up`` is called (the worker closes its crawl).
    """

    def __init__(self, server: redis.Redis, patience: float = 120.0) -> None:
        self.server = server
        self.patience = patience
        self.up = True
        self.retries = 0
        self.since = 0.0
        self.gave_up = False
        self._waiters: list[Deferred[None]] = []
        self._later: list[Callable[[], Any]] = []
        #: Called (in order) once Redis answers again, after the kept writes.
        self.on_up: list[Callable[[], None]] = []
        self.on_give_up: Callable[[], None] | None = None
        self._probe: Any = None

    def failed(self, exc: BaseException) -> None:
        """Note that a command found Redis unreachable; start probing it."""
        if not self.up or self.gave_up:
            return
        self.up = False
        self.retries = 0
        self.since = time.monotonic()
        logger.warning("Redis unreachable (%s): waiting and retrying", exc)
        self._schedule()

    def later(self, write: Callable[[], Any]) -> None:
        """Send ``write`` now if Redis answers, else once it does (in the order given)."""
        if self.gave_up:
            return
        if self.up and not self._later:
            try:
                write()
                return
            except _DOWN_ERRORS as exc:
                self.failed(exc)
            except redis.RedisError as exc:  # refused, not unreachable: not kept
                logger.warning("newswarc: Redis refused a write: %s", exc)
                return
        self._later.append(write)

    def wait_up(self) -> Deferred[None]:
        """Return a Deferred that fires once Redis answers (at once if it does)."""
        if self.gave_up:
            return fail(redis.ConnectionError("Redis unreachable past NEWSWARC_REDIS_PATIENCE"))
        if self.up:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._waiters.append(d)
        return d

    def _schedule(self) -> None:
        from twisted.internet import reactor

        delay = min(0.05 * 2**self.retries, 2.0)
        clock: Any = reactor
        self._probe = clock.callLater(delay, self._try)

    def _try(self) -> None:
        self._probe = None
        d = deferToThread(self.server.ping)
        d.addCallbacks(lambda _: self._answered(), self._no_answer)

    def _no_answer(self, failure: Failure) -> None:
        self.retries += 1
        if self.retries % 10 == 0:
            logger.warning("Redis still unreachable (%s), retry %d", failure.value, self.retries)
        if time.monotonic() - self.since > self.patience:
            logger.error(
                "Redis unreachable for %.0f s (NEWSWARC_REDIS_PATIENCE): giving up",
                time.monotonic() - self.since,
            )
            self.gave_up = True
            self._later.clear()
            waiters, self._waiters = self._waiters, []
            for d in waiters:
                d.errback(redis.ConnectionError("Redis unreachable past NEWSWARC_REDIS_PATIENCE"))
            if self.on_give_up is not None:
                self.on_give_up()
            return
        self._schedule()

    def _answered(self) -> None:
        try:
            while self._later:
                self._later[0]()
                self._later.pop(0)
        except _DOWN_ERRORS as exc:
            self._no_answer(Failure(exc))
            return
        except redis.RedisError as exc:  # a write Redis refused: not retried forever
            logger.warning("newswarc: a write kept during the outage failed: %s", exc)
            self._later.pop(0)
            self._answered()
            return
        logger.warning("Redis answers again after %d retries", self.retries + 1)
        self.up = True
        for hook in self.on_up:
            try:
                hook()
            except _DOWN_ERRORS as exc:
                self.failed(exc)
                return
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.callback(None)

    def stop(self) -> None:
        """Stop probing (the crawl is closing)."""
        if self._probe is not None and self._probe.active():
            self._probe.cancel()
        self._probe = None


class OutageState:
    """The Redis crawl state, answering without Redis while it is unreachable.

    Captures in flight when Redis went away are still written: a lookup Redis cannot answer is
    answered "unknown" (no earlier fetch: a full response record rather than a revisit; not a
    known article: fetched), and a write waits in the :class:`RedisLink` until Redis answers
    again. An article's version cannot be guessed (an article archived before would get a
    second version 1): its writer waits on :meth:`ready` first. The worker's own writes made
    during the outage are remembered and answer its own later lookups.
    """

    _READS: ClassVar[dict[str, Any]] = {
        "seen": None,
        "validators": (None, None),
        "latest_version": None,
        "known_article": None,
        "listing_validators": (None, None),
        "listing_links": [],
    }

    def __init__(self, state: Any, fast: Any, link: RedisLink, stats: Any) -> None:
        self.patient = state
        self.fast = fast
        self.link = link
        self.stats = stats
        self._versions: dict[str, Version] = {}

    def _read(self, name: str, *args: Any) -> Any:
        if self.link.up:
            try:
                return getattr(self.fast, name)(*args)
            except _DOWN_ERRORS as exc:
                self.link.failed(exc)
        if self.stats is not None:
            self.stats.inc_value("newswarc/redis/outage_state_reads")
        default = self._READS[name]
        return list(default) if isinstance(default, list) else default

    def _write(self, name: str, *args: Any, **kw: Any) -> None:
        if not self.link.up and self.stats is not None:
            self.stats.inc_value("newswarc/redis/outage_state_writes")
        self.link.later(partial(getattr(self.fast, name), *args, **kw))

    def ready(self) -> Deferred[None] | None:
        """Return a Deferred that fires once Redis answers, or None when it does now.

        Whether an article is a new version cannot be answered "unknown": the article writer
        waits on this before it asks.
        """
        return None if self.link.up else self.link.wait_up()

    def seen(self, url: str) -> Any:
        return self._read("seen", url)

    def validators(self, url: str) -> Any:
        return self._read("validators", url)

    def latest_version(self, url: str) -> Any:
        if url in self._versions and not self.link.up:
            return self._versions[url]
        return self._read("latest_version", url)

    def known_article(self, url: str) -> Any:
        return self._read("known_article", url)

    def listing_validators(self, url: str) -> Any:
        return self._read("listing_validators", url)

    def listing_links(self, url: str) -> Any:
        return self._read("listing_links", url)

    def record_fetch(self, url: str, **kw: Any) -> None:
        # Replayed later: the fetch time is now, not when Redis answers.
        kw.setdefault("when", None)
        if kw["when"] is None:
            kw["when"] = datetime.now(UTC)
        self._write("record_fetch", url, **kw)

    def save_validators(self, found: dict[str, tuple[str | None, str | None]]) -> None:
        self._write("save_validators", dict(found))

    def add_version(self, version: Version) -> None:
        if not self.link.up:
            self._versions[version.url] = version
        self._write("add_version", version)

    def record_redirect(self, url: str, target: str) -> None:
        self._write("record_redirect", url, target)

    def record_not_article(self, url: str, reason: str, crawl_id: str | None = None) -> None:
        self._write("record_not_article", url, reason, crawl_id)

    def save_listing(
        self, url: str, etag: str | None, last_modified: str | None, links: list[str]
    ) -> None:
        self._write("save_listing", url, etag, last_modified, list(links))

    def close(self) -> None:
        # (``fast`` runs on the worker's own client, used until the process ends.)
        with contextlib.suppress(redis.RedisError):
            self.patient.close()


def run_name(arguments: dict[str, str]) -> str:
    """Name a run by what it crawls: workers started with the same arguments share it."""
    text = json.dumps(sorted(arguments.items()))
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:12]


# Claim the run's seeding (KEYS[1]) for ARGV[1] (a lease of ARGV[2] s) unless another worker
# holds it or the run is seeded; the first claim also names the run's instance (KEYS[2]).
# 1: claimed (or already this worker's), 0: not.
_CLAIM_SEED = """
local seed = redis.call('GET', KEYS[1])
if seed == ARGV[1] then redis.call('EXPIRE', KEYS[1], ARGV[2]) return 1 end
if seed then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'NX')
return 1
"""


class RedisWorker:
    """One worker of a distributed crawl: its Redis link, its run, its leases and its idling.

    A run is named by ``NEWSWARC_REDIS_RUN``, or else by the spider's arguments. The first
    worker of a run seeds it (the spider's start requests go into the shared queue in one
    step); the others take work from the queue, and take the seeding over if the seeder's claim
    runs out before it is done (it died). Leases are renewed every third of
    ``NEWSWARC_REDIS_LEASE_TIMEOUT`` and run-out ones put back. A worker closes once nothing is
    queued or leased anywhere and the seed is done (``NEWSWARC_REDIS_CLOSE_WHEN_DONE``), or
    idles until stopped; the last one out forgets the run's seen set, so the next scheduled run
    starts fresh (the crawl state, not the seen set, skips known articles).

    Redis unreachable mid-crawl does not stop the reactor: the worker's commands fail fast, the
    :class:`RedisLink` probes Redis in a thread with back-off, and meanwhile the downloads in
    flight finish and are archived (:class:`OutageState`); no new one starts.
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
        self.link = RedisLink(server, settings.getfloat("NEWSWARC_REDIS_PATIENCE", 120.0))
        self.link.on_give_up = self._give_up
        self.scheduler: LeaseScheduler | None = None
        self.seeding = False
        self._reseeding = False
        self._claim = server.register_script(_CLAIM_SEED)
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
            server = fast_client(str(url))
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

    @property
    def seed_ttl(self) -> int:
        """Seconds a seeding claim lives unless its worker renews it (heartbeat)."""
        return max(1, int(self.lease_timeout * 3))

    def claim_seed(self) -> bool:
        """Become the run's seeder unless another worker is or was (or hold on to the claim)."""
        archive = self.crawler.get_extension(ArchiveExtension)
        crawl_id = archive.crawl_id if archive is not None else self.worker
        claimed = self._claim(
            keys=[self.seed_key, self.instance_key],
            args=[f"seeding:{self.worker}", self.seed_ttl, crawl_id],
        )
        self.seeding = bool(claimed)
        # Names this run of the arguments, so its workers' crawls are listed as one.
        self._read_instance()
        return self.seeding

    def _read_instance(self) -> None:
        if self.instance is None:
            value = self.server.get(self.instance_key)
            self.instance = value.decode() if isinstance(value, bytes) else value

    async def seed(self, requests: list[Request]) -> bool:
        """Queue the start requests in one step; False if this worker's claim was lost."""
        if self.scheduler is None:
            raise RuntimeError("RedisWorker.seed needs the LeaseScheduler")
        done = self.scheduler.seed(requests, self.seed_key, f"seeding:{self.worker}")
        self.seeding = False
        if not done:
            logger.warning("Seeding of run %s was taken over by another worker", self.run)
            return False
        logger.info("Seeded run %s with %d start requests", self.run, len(requests))
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("newswarc/redis/seeded", len(requests))
        return True

    def _take_over_seed(self) -> None:
        if self._reseeding or not self.claim_seed():
            return
        logger.warning(
            "Run %s is not seeded and its seeding claim ran out (its seeder died): seeding it here",
            self.run,
        )
        self._reseeding = True
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("newswarc/redis/seed_taken_over")
        deferred_from_coro(self._reseed())

    async def _reseed(self) -> None:
        try:
            engine: Any = self.crawler.engine
            # The spider's start requests through the spider middlewares again (SeedOnce sees
            # this worker holds the claim and queues them in one step).
            start = await engine.scraper.spidermw.process_start()
            async for _ in start:
                pass
        except Exception:
            logger.exception("Seeding run %s failed; another worker may take it over", self.run)
        finally:
            self._reseeding = False
            self.poll()

    # -- lifecycle ----------------------------------------------------------------------

    def spider_opened(self) -> None:
        archive = self.crawler.get_extension(ArchiveExtension)
        parts = getattr(archive, "manifest_parts", None)
        if parts is not None:
            parts.append(self.manifest_part)
        if archive is not None and type(archive.state).__name__ == "RedisState":
            # Captures and articles go on while Redis is away (its client waits in the reactor).
            from pipelines.redisstate import RedisState

            state: Any = archive.state
            fast = RedisState(self.server, state.prefix)
            archive.state = OutageState(state, fast, self.link, self.crawler.stats)
        self.link.on_up.append(self._back)
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

    def _back(self) -> None:
        # Redis answers again: own leases first (other workers' run-out ones wait a lease time,
        # so workers that come back a moment later are not robbed of theirs), then work.
        if self.scheduler is not None and getattr(self.scheduler, "queue", None) is not None:
            self.scheduler.back()
        self.heartbeat()
        self.poll()

    def _give_up(self) -> None:
        engine: Any = self.crawler.engine
        if engine is not None and getattr(engine, "_slot", None) is not None:
            deferred_from_coro(engine.close_spider_async(reason="redis_unreachable"))

    def heartbeat(self) -> None:
        """Renew leases, put run-out ones back, and say this worker is alive."""
        if not self.link.up:
            return
        try:
            if self.seeding:
                self.server.expire(self.seed_key, self.seed_ttl)
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
        except _DOWN_ERRORS as exc:
            self.link.failed(exc)
        except redis.RedisError as exc:
            logger.warning("newswarc: Redis heartbeat failed (%s); retrying", exc)

    def poll(self) -> None:
        """Let the engine ask the queue for work now, not at its next 5 s heartbeat."""
        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None and slot.closing is None:
            slot.nextcall.schedule()

    def pending(self, take_over: bool = False) -> bool:
        """Tell whether any worker may still add work to the run.

        Args:
            take_over: seed the run here if its seeder died before it was seeded.

        """
        if not self.link.up:
            return True  # not known: wait for Redis
        try:
            seed: Any
            seed, instance = self.server.mget(self.seed_key, self.instance_key)
            if (
                self.seeding
                or self._reseeding
                or (seed is not None and seed.startswith(b"seeding"))
            ):
                return True
            if seed is None and instance is not None:
                # Claimed once (the run has an instance) but never seeded, and the claim ran
                # out: its seeder died before the start requests were queued.
                if take_over:
                    self._take_over_seed()
                return True
            if self.scheduler is None:
                return False
            queued, leased = self.scheduler.queue.counts()
        except _DOWN_ERRORS as exc:
            self.link.failed(exc)
            return True
        return bool(queued or leased)

    def spider_idle(self) -> None:
        if self.pending(take_over=True) or not self.close_when_done:
            raise DontCloseSpider

    def spider_closed(self, reason: str) -> None:
        for call in (self._heartbeat, self._poll):
            if call.running:
                call.stop()
        self.link.stop()
        try:
            self._leave(reason)
        finally:
            if self.crawler.stats is not None:
                self.crawler.stats.set_value("newswarc/redis/round_trips", CountingConnection.sent)

    def _leave(self, reason: str) -> None:
        if not self.link.up:
            logger.warning("newswarc: Redis unreachable at close; this worker's leases expire")
            return
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
    """Spider middleware: only the run's seeder sends the spider's start requests.

    It queues them all in one step (:meth:`LeaseScheduler.seed`) with the mark that the run is
    seeded: a seeder killed meanwhile leaves nothing half done, its claim runs out and another
    worker of the run seeds it (:meth:`RedisWorker.pending`).
    """

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
        requests: list[Request] = []
        async for item in start:
            if isinstance(item, Request):
                requests.append(item)
            else:
                yield item
        await self.worker.seed(requests)
        self.worker.poll()
