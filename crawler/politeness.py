"""Politeness for the whole cluster: per-host concurrency and delay held in Redis."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from functools import partial
from typing import TYPE_CHECKING, Any

import redis
from protego import Protego
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached

from crawler.distributed import RedisWorker
from crawler.redisqueue import DOWN_ERRORS, SENT, SLOT, host_concurrency

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request

logger = logging.getLogger(__name__)

# Take a slot of the host if fewer than ARGV[1] are taken and its delay has passed. Slots are
# leases too (ARGV[3] ms): a worker killed mid-download frees its slot when it runs out.
# Returns 0 (taken), a wait in ms (the delay), or -1 (every slot taken).
# First, in the same round trip, the ARGV[6] host slot releases (host, token) this worker has
# not sent yet (a robots.txt download's slot, given back just before its page asks).
_ACQUIRE = """
local i = 7
for _ = 1, tonumber(ARGV[6]) do
  redis.call('ZREM', ARGV[5] .. ':host:' .. ARGV[i] .. ':slots', ARGV[i + 1])
  i = i + 2
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
if now < nxt then return nxt - now end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return -1 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
local delay = math.max(tonumber(ARGV[4]), tonumber(redis.call('GET', KEYS[3]) or '0'))
if delay > 0 then redis.call('SET', KEYS[2], now + delay, 'PX', math.ceil(delay)) end
return 0
"""

#: Seconds a host's robots.txt, fetched by one worker, serves the whole cluster.
ROBOTS_TTL = 3600


class ClusterPolitenessMiddleware:
    """Downloader middleware: per-host concurrency and delay for the whole cluster.

    At most ``NEWSWARC_REDIS_HOST_CONCURRENCY`` downloads per host across every worker, started
    at least ``DOWNLOAD_DELAY`` (or the host's robots.txt ``Crawl-delay``, whichever is longer)
    apart.

    Scrapy's own per-host limits hold per process: N workers would hit a site N times harder.
    A request waits here up to 0.1 s for a host slot (or the host's delay), else goes
    back into the shared queue, behind other hosts' requests (a lower priority);
    the slot goes back when its response or error comes, or after ``DOWNLOAD_TIMEOUT`` plus a
    margin if its worker died.
    """

    def __init__(
        self,
        worker: RedisWorker,
        stats: Any,
        *,
        concurrency: int,
        delay: float,
        hold: float,
        max_wait: float = 0.1,
        robots_wait: float = 10.0,
    ) -> None:
        self.worker = worker
        self.server = worker.server
        self.root = worker.root
        self.concurrency = concurrency
        self.delay_ms = int(delay * 1000)
        self.hold_ms = int(hold * 1000)
        self._acquire = self.server.register_script(_ACQUIRE)
        self.max_wait = max_wait
        self.robots_wait = robots_wait
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClusterPolitenessMiddleware:
        worker = crawler.get_extension(RedisWorker)
        if worker is None:
            raise NotConfigured
        settings = crawler.settings
        return cls(
            worker,
            crawler.stats,
            concurrency=host_concurrency(settings),
            delay=settings.getfloat("DOWNLOAD_DELAY", 0.0),
            hold=settings.getfloat("DOWNLOAD_TIMEOUT", 30.0) + 30.0,
            robots_wait=settings.getfloat("NEWSWARC_ROBOTSTXT_TIMEOUT", 10.0),
        )

    def _keys(self, host: str) -> list[str]:
        base = f"{self.root}:host:{host}"
        return [f"{base}:slots", f"{base}:next", f"{base}:crawl_delay"]

    async def process_request(self, request: Request) -> Request | Response | None:
        robots = _robots_request(request)
        if robots:
            shared = await self._shared_robots(request)
            if shared is not None:
                return shared
        host = urlparse_cached(request).hostname or ""
        token = uuid.uuid4().hex
        keys = self._keys(host)
        args: list[str | int] = [self.concurrency, token, self.hold_ms, self.delay_ms]
        waited = 0.0
        link = self.worker.link
        while True:
            if self._stopping() and not robots:
                # The worker is stopping (SIGTERM): not sent, back into the queue at once.
                self.stats.inc_value("newswarc/redis/handed_back_unsent")
                return request.replace(dont_filter=True)
            if not link.up:
                # No new download while Redis is away (no slot can be taken); the reactor
                # runs on, so what is in flight finishes and is archived.
                try:
                    await maybe_deferred_to_future(link.wait_up())
                except redis.ConnectionError as exc:
                    raise IgnoreRequest(f"Redis unreachable: {exc}") from None
                continue
            scheduler = self.worker.scheduler
            releases = scheduler.take_releases() if scheduler is not None else []
            try:
                flat = [x for pair in releases for x in pair]
                wait = int(self._acquire(keys=keys, args=[*args, self.root, len(releases), *flat]))
            except DOWN_ERRORS as exc:
                if scheduler is not None:
                    scheduler.release_all(releases)
                link.failed(exc)
                continue
            if wait == 0:
                break
            pause = 0.05 if wait < 0 else wait / 1000
            self.stats.inc_value("newswarc/redis/host_slot_waits")
            if waited + pause > self.max_wait and not robots:
                # (A robots.txt request is the engine's own download, never in the queue: it
                # waits for its slot.)
                # The host is busy elsewhere: back into the shared queue, behind other hosts'
                # requests, rather than hold one of this worker's concurrent requests idle.
                self.stats.inc_value("newswarc/redis/host_busy_requeued")
                return request.replace(priority=request.priority - 1, dont_filter=True)
            await asyncio.sleep(pause)
            waited += pause
        request.meta[SLOT] = (host, token)
        request.meta[SENT] = True
        return None

    def _stopping(self) -> bool:
        engine: Any = self.worker.crawler.engine
        slot = getattr(engine, "_slot", None)
        return engine is not None and (
            not engine.running or (slot is not None and slot.closing is not None)
        )

    # -- robots.txt, one fetch per host for the cluster -------------------------------------

    def _robots_keys(self, request: Request) -> tuple[str, str]:
        url = urlparse_cached(request)
        base = f"{self.root}:robots:{url.scheme}://{url.netloc}"
        return base, f"{base}:fetching"

    async def _shared_robots(self, request: Request) -> Response | None:
        """Return the host's robots.txt as another worker fetched it, or None to fetch it here.

        One worker claims the fetch; the others wait for its response in Redis (up to
        ``NEWSWARC_ROBOTSTXT_TIMEOUT``), then are given it as a cached response (not archived
        again: the fetching worker's WARC has it). Each worker's RobotsTxtMiddleware parses it
        as its own.
        """
        cached_key, claim_key = self._robots_keys(request)
        deadline = time.monotonic() + self.robots_wait
        claim_ms = int(self.robots_wait * 1000) + self.hold_ms
        while True:
            if not self.worker.link.up:
                return None  # fetched here, once Redis gives it a host slot
            try:
                pipe = self.server.pipeline(transaction=False)
                pipe.get(cached_key)
                pipe.set(claim_key, self.worker.worker, nx=True, px=claim_ms)
                cached, claimed = pipe.execute()
            except DOWN_ERRORS as exc:
                self.worker.link.failed(exc)
                return None
            if cached is not None:
                if claimed:
                    self.server.delete(claim_key)
                self.stats.inc_value("newswarc/redis/robots_shared")
                return _cached_response(request, cached)
            if claimed:
                request.meta["newswarc_robots_claim"] = True
                self.stats.inc_value("newswarc/redis/robots_fetched")
                return None
            if time.monotonic() > deadline:
                return None  # its fetcher is slow or gone: fetch it here
            self.stats.inc_value("newswarc/redis/robots_waits")
            await asyncio.sleep(0.05)

    def _share_robots(self, request: Request, response: Response | None) -> None:
        if not request.meta.pop("newswarc_robots_claim", False):
            return
        cached_key, claim_key = self._robots_keys(request)
        if not self.worker.link.up:
            return  # the claim runs out; the next worker that asks fetches it
        try:
            pipe = self.server.pipeline(transaction=False)
            if response is not None:
                headers = {
                    k.decode("latin-1"): [v.decode("latin-1") for v in vs]
                    for k, vs in response.headers.items()
                }
                record = {"status": response.status, "headers": headers}
                head = json.dumps(record).encode()
                pipe.set(cached_key, head + b"\n" + response.body, ex=ROBOTS_TTL)
            pipe.delete(claim_key)  # an error: the next worker that asks fetches it
            pipe.execute()
        except DOWN_ERRORS as exc:
            self.worker.link.failed(exc)
        except redis.RedisError as exc:
            logger.warning("newswarc: robots.txt not shared (%s)", exc)

    def _release(self, request: Request) -> None:
        held = request.meta.pop(SLOT, None)
        if held is None:
            return
        scheduler = self.worker.scheduler
        if scheduler is not None:
            # With this worker's next take, in its round trip (kept while Redis is away).
            scheduler.release(*held)
        else:
            self.worker.link.later(partial(self.server.zrem, self._keys(held[0])[0], held[1]))

    def process_response(self, request: Request, response: Response) -> Response:
        self._release(request)
        if "cached" in response.flags:
            return response
        if _robots_request(request):
            self._share_robots(request, response)
        if urlparse_cached(request).path == "/robots.txt" and response.status == 200:
            self._note_crawl_delay(request, response)
        return response

    def process_exception(self, request: Request, exception: BaseException) -> Any:
        self._release(request)
        self._share_robots(request, None)
        return None

    def _note_crawl_delay(self, request: Request, response: Response) -> None:
        user_agent = (request.headers.get(b"User-Agent") or b"").decode("latin-1") or "*"
        try:
            delay = Protego.parse(response.body.decode("utf-8", "replace")).crawl_delay(user_agent)
        except Exception:  # a robots.txt we cannot read gives no delay; Scrapy reports it
            return
        if delay:
            host = urlparse_cached(request).hostname or ""
            key = self._keys(host)[2]
            self.worker.link.later(
                partial(self.server.set, key, int(float(delay) * 1000), ex=86400)
            )
            logger.info(
                "robots.txt of %s asks for a crawl delay of %s s (whole cluster)", host, delay
            )


def _robots_request(request: Request) -> bool:
    # Scrapy's RobotsTxtMiddleware asks for robots.txt with this mark; a spider's own request
    # of the file (for its sitemaps) is a page like any other.
    return bool(request.meta.get("dont_obey_robotstxt")) and (
        urlparse_cached(request).path == "/robots.txt"
    )


def _cached_response(request: Request, cached: bytes) -> Response:
    head, _, body = cached.partition(b"\n")
    record = json.loads(head)
    return Response(
        request.url,
        status=int(record["status"]),
        headers=record["headers"],
        body=body,
        flags=["cached"],
        request=request,
    )
