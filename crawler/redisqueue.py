"""scrapy-redis's scheduler and queue with leases: a taken request is not forgotten."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import redis
from scrapy.utils.httpobj import urlparse_cached
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

# Take the best request whose host is free and lease it, in one step: a worker killed right
# after still has it in the lease table, from where it expires back into the queue. A member
# starts "@HOST\n" (LeasedQueue._encode_request); its host is free when fewer than ARGV[4]
# of the host's cluster slots (ClusterPolitenessMiddleware's keys under ARGV[3]) are taken,
# its delay has passed and this worker has no request of it on the way to a slot (ARGV[6:]).
# Only the best ARGV[5] members are looked at: equal priorities are spread over hosts, so
# they are a sample of the whole queue. Returns the member, 1 (every host looked at is busy)
# or false (the queue is empty).
# First, in the same round trip, ARGV[6] acknowledgements (lease ids) and ARGV[7] host slot
# releases (host, token) this worker has to send: the request that just finished frees its host
# for this very take, and the take after a download is the one round trip on that path.
_TAKE = """
local i = 8
for _ = 1, tonumber(ARGV[6]) do
  redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('HDEL', KEYS[3], ARGV[i])
  redis.call('HDEL', KEYS[4], ARGV[i])
  i = i + 1
end
for _ = 1, tonumber(ARGV[7]) do
  redis.call('ZREM', ARGV[3] .. ':host:' .. ARGV[i] .. ':slots', ARGV[i + 1])
  i = i + 2
end
local items = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[5]) - 1, 'WITHSCORES')
if #items == 0 then return false end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local conc = tonumber(ARGV[4])
local busy = {}
for j = i, #ARGV do busy[ARGV[j]] = true end
local pick = nil
for i = 1, #items, 2 do
  local m = items[i]
  local host = nil
  if conc > 0 and string.sub(m, 1, 1) == '@' then
    local nl = string.find(m, '\\n', 2, true)
    if nl then host = string.sub(m, 2, nl - 1) end
  end
  if host == nil then pick = i break end
  local b = busy[host]
  if b == nil then
    local base = ARGV[3] .. ':host:' .. host
    redis.call('ZREMRANGEBYSCORE', base .. ':slots', '-inf', now)
    b = redis.call('ZCARD', base .. ':slots') >= conc
      or tonumber(redis.call('GET', base .. ':next') or '0') > now
    busy[host] = b
  end
  if not b then pick = i break end
end
if pick == nil then return 1 end
redis.call('ZREM', KEYS[1], items[pick])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], items[pick])
redis.call('HSET', KEYS[4], ARGV[1], items[pick + 1])
return items[pick]
"""
# Put every lease whose time ran out back into the queue, with its priority.
_EXPIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, id in ipairs(ids) do
  local data = redis.call('HGET', KEYS[3], id)
  local score = redis.call('HGET', KEYS[4], id)
  if data then redis.call('ZADD', KEYS[1], tonumber(score) or 0, data) end
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
end
return #ids
"""
# Extend the leases still held (an expired one was given to someone else: not revived).
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = 0
for i = 1, #ARGV - 1 do
  n = n + redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[#ARGV]), ARGV[i])
end
return n
"""
# Acknowledge: the request's response is archived, the lease and its copy go.
_ACK = """
for i = 1, #ARGV do
  redis.call('ZREM', KEYS[1], ARGV[i])
  redis.call('HDEL', KEYS[2], ARGV[i])
  redis.call('HDEL', KEYS[3], ARGV[i])
end
return #ARGV
"""

# Queue requests not seen before in the run (KEYS[2], the seen set), in one step: a push that
# Redis never answered is either wholly done or not at all, so it can be sent again. ARGV[1]
# guards a seeding: unless empty, the run's seed mark (KEYS[3]) must still be this worker's
# claim, and is set to "seeded" with the push. Then triples: fingerprint ('' for dont_filter),
# score, member. Returns how many were queued, or -1 (the claim is not this worker's).
_PUSH = """
if ARGV[1] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[1] then return -1 end
local n = 0
for i = 2, #ARGV, 3 do
  if ARGV[i] == '' or redis.call('SADD', KEYS[2], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i + 2])
    n = n + 1
  end
end
if ARGV[1] ~= '' then redis.call('SET', KEYS[3], 'seeded') end
return n
"""

#: Errors of a Redis that does not answer (stopped, restarted, network gone).
DOWN_ERRORS = (redis.ConnectionError, redis.TimeoutError)

#: request.meta key of the lease a request was taken under.
LEASE = "newswarc_lease"
#: request.meta key of the host slot a download holds (crawler.politeness).
SLOT = "newswarc_host_slot"
#: request.meta key set once a request got its host slot (it is past the wait for one).
SENT = "newswarc_host_sent"
# Per-download marks that must not travel with a copy (retry, redirect, requeue).
_TRANSIENT = (LEASE, SLOT, SENT)
#: Best members of the queue the take looks at for a request of a free host.
TAKE_SCAN = 256


def worker_identity() -> str:
    """Return this worker's name: host and process id (unique at any one time)."""
    return f"{socket.gethostname()}.{os.getpid()}"


def host_concurrency(settings: Any) -> int:
    """Return the downloads per host allowed across the cluster."""
    return settings.getint("NEWSWARC_REDIS_HOST_CONCURRENCY") or settings.getint(
        "CONCURRENT_REQUESTS_PER_DOMAIN", 4
    )


class LeasedQueue(PriorityQueue):
    """scrapy-redis's priority queue, whose ``pop`` leases the request instead of forgetting it.

    Keys beside the queue (``KEY``, a sorted set): ``KEY:leases`` (lease id by expiry),
    ``KEY:leased`` (lease id to the encoded request) and ``KEY:scores`` (its priority).

    With ``host_concurrency`` set, ``pop`` is host-aware: it hands out the best request whose
    host has a free cluster slot (``HOST_ROOT:host:HOST:slots``, ``…:next``, as
    :class:`crawler.politeness.ClusterPolitenessMiddleware` keeps them) rather than one that
    would wait for its host and go back into the queue.
    """

    def __init__(
        self,
        *args: Any,
        lease_timeout: float = 60.0,
        worker: str = "",
        host_root: str = "newswarc",
        host_concurrency: int = 0,
        **kw: Any,
    ):
        super().__init__(*args, **kw)
        self.host_root = host_root
        self.host_concurrency = host_concurrency
        #: Whether the last ``pop`` found requests, every one of a busy host.
        self.busy = False
        self.lease_ms = int(lease_timeout * 1000)
        self.worker = worker or worker_identity()
        self.leases_key = f"{self.key}:leases"
        self.leased_key = f"{self.key}:leased"
        self.scores_key = f"{self.key}:scores"
        self._serial = 0
        self._take = self.server.register_script(_TAKE)
        self._expire = self.server.register_script(_EXPIRE)
        self._renew = self.server.register_script(_RENEW)
        self._ack = self.server.register_script(_ACK)
        self._push = self.server.register_script(_PUSH)

    def _keys(self) -> list[str]:
        return [self.key, self.leases_key, self.leased_key, self.scores_key]

    def pop(
        self,
        timeout: int = 0,
        skip: Iterable[str] = (),
        acks: list[str] | None = None,
        releases: list[tuple[str, str]] | None = None,
    ) -> Request | None:
        """Take the best request of a free host under a new lease (``request.meta[LEASE]``).

        Args:
            timeout: unused (scrapy-redis's signature); a take never blocks.
            skip: hosts to treat as busy (this worker's requests on their way to a slot).
            acks: leases to acknowledge first, in the same round trip.
            releases: host slots (host, token) to give back first, in the same round trip.

        """
        self._serial += 1
        lease = f"{self.worker}:{self._serial}"
        acks, releases = acks or [], releases or []
        args: list[Any] = [lease, self.lease_ms, self.host_root, self.host_concurrency, TAKE_SCAN]
        args += [len(acks), len(releases), *acks]
        for host, token in releases:
            args += [host, token]
        args += list(skip)
        data = self._take(keys=self._keys(), args=args)
        self.busy = data == 1
        if not data or self.busy:
            return None
        request = self._decode_request(data)
        request.meta[LEASE] = lease
        return request

    def push(self, request: Request) -> None:
        """Queue a request by priority; within one priority in an order spread over hosts.

        A sorted set orders equal scores by their bytes, which puts one host's pages side by
        side: workers would take them together and wait on the host's politeness. A fraction
        from the URL's hash (below 1: priorities stay apart) spreads them.
        """
        self.server.zadd(self.key, {self._encode_request(request): self.score(request)})

    def score(self, request: Request) -> float:
        """Return the request's score in the queue (lower first)."""
        spread = int(hashlib.sha1(request.url.encode(), usedforsecurity=False).hexdigest()[:8], 16)
        return -request.priority + spread / 2**32 * 0.99

    def push_new(
        self,
        requests: list[tuple[Request, str]],
        seen_key: str,
        *,
        seed_key: str = "",
        owner: str = "",
    ) -> int:
        """Queue the requests whose fingerprint is new to the run's seen set, in one step.

        Args:
            requests: (request, fingerprint) pairs; an empty fingerprint is never filtered.
            seen_key: the run's seen set (the dupefilter's key).
            seed_key: with ``owner``, the run's seed mark: queued only if it is still
                ``owner``'s claim, and marked seeded in the same step.
            owner: the seeding claim this push completes ('' for a plain push).

        Returns:
            How many were queued, or -1 if ``owner`` no longer holds the seeding claim.

        """
        args: list[Any] = [owner]
        for request, fingerprint in requests:
            args += [fingerprint, self.score(request), self._encode_request(request)]
        keys = [self.key, seen_key, seed_key or f"{self.key}:noseed"]
        return int(self._push(keys=keys, args=args))

    def _encode_request(self, request: Request) -> Any:
        # A retry or redirect copies meta: the new request is not under the old lease or slot.
        marks = {k: request.meta.pop(k) for k in _TRANSIENT if k in request.meta}
        try:
            data = super()._encode_request(request)
        finally:
            request.meta.update(marks)
        # The host in front, for the host-aware take (a host name has no newline).
        host = urlparse_cached(request).hostname or ""
        if isinstance(data, bytes):
            return b"@" + host.encode("ascii", "replace") + b"\n" + data
        return f"@{host}\n{data}"

    def _decode_request(self, encoded_request: Any) -> Request:
        marker = b"@" if isinstance(encoded_request, bytes) else "@"
        if encoded_request[:1] == marker:
            newline = b"\n" if isinstance(encoded_request, bytes) else "\n"
            encoded_request = encoded_request[encoded_request.index(newline) + 1 :]
        return super()._decode_request(encoded_request)

    def expire(self, limit: int = 1000) -> int:
        """Put leases that ran out (their worker died or hung) back into the queue."""
        return int(self._expire(keys=self._keys(), args=[limit]))

    def renew(self, leases: list[str]) -> int:
        """Extend the given leases by the lease time; return how many were still held."""
        if not leases:
            return 0
        return int(self._renew(keys=[self.leases_key], args=[*leases, self.lease_ms]))

    def ack(self, leases: list[str]) -> None:
        """Forget the given leases: their requests are done."""
        if leases:
            self._ack(keys=[self.leases_key, self.leased_key, self.scores_key], args=leases)

    def counts(self) -> tuple[int, int]:
        """Return (requests queued, requests leased)."""
        pipe = self.server.pipeline(transaction=False)
        pipe.zcard(self.key)
        pipe.zcard(self.leases_key)
        queued, leased = pipe.execute()
        return int(queued), int(leased)

    def clear(self) -> None:
        """Empty the queue and its leases."""
        self.server.delete(*self._keys())


class LeaseScheduler(Scheduler):
    """scrapy-redis's scheduler, fitted to Scrapy 2.19 and given leases.

    What scrapy-redis 0.9 does not do, and this class does:

    - every taken request is leased (:class:`LeasedQueue`), renewed while this worker works on
      it, and acknowledged only once the engine is done with it: downloaded, captured to WARC,
      its callback run and its items through the pipelines; a dead worker's leases expire and
      go back to the queue;
    - ``has_pending_requests`` counts other workers' leases too: while any worker may still add
      requests, the run is not over, and this worker does not close;
    - ``next_request`` never blocks (scrapy-redis's ``BRPOP`` with ``SCHEDULER_IDLE_BEFORE_CLOSE``
      would stop Scrapy's reactor, downloads and all), not even while Redis is unreachable:
      then it hands out nothing, and keeps acknowledgements, slot releases and new requests
      until Redis answers (``link``, a :class:`crawler.distributed.RedisLink`);
    - the seen-set check and the push are one step (a Lua script, one round trip);
    - at close (SIGTERM too) what this worker still holds goes back to the queue at once.
    """

    def __init__(
        self,
        server: redis.Redis,
        *,
        lease_timeout: float,
        host_root: str = "newswarc",
        host_concurrency: int = 0,
        link: Any = None,
        **kw: Any,
    ) -> None:
        super().__init__(server, **kw)
        self.lease_timeout = lease_timeout
        self.host_root = host_root
        self.host_concurrency = host_concurrency
        self.link = link
        self._wake: Any = None
        self.crawler: Crawler | None = None
        self.held: dict[str, Request] = {}
        self.df: Any
        self._counts: tuple[float, int, int] = (0.0, 0, 0)
        # Kept while Redis is unreachable, sent when it answers (in this order).
        self._unacked: list[str] = []
        self._unreleased: list[tuple[str, str]] = []
        self._unpushed: list[Request] = []
        self._flush_call: Any = None
        self._expire_after = 0.0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LeaseScheduler:
        from crawler.distributed import RedisWorker

        worker = crawler.get_extension(RedisWorker)
        if worker is None:
            raise RuntimeError("LeaseScheduler needs the crawler.distributed.RedisWorker extension")
        settings = crawler.settings
        prefix = worker.prefix
        instance = cls(
            worker.server,
            lease_timeout=settings.getfloat("NEWSWARC_REDIS_LEASE_TIMEOUT", 60.0),
            host_root=worker.root,
            host_concurrency=host_concurrency(settings),
            link=worker.link,
            persist=True,  # a worker that stops must not empty the queue of the others
            queue_key=f"{prefix}:requests",
            queue_cls="crawler.redisqueue.LeasedQueue",
            dupefilter_key=f"{prefix}:dupefilter",
            dupefilter_cls=settings.get("DUPEFILTER_CLASS"),
            serializer=settings.get("SCHEDULER_SERIALIZER") or None,
        )
        instance.stats = crawler.stats
        instance.crawler = crawler
        worker.scheduler = instance
        return instance

    @property
    def up(self) -> bool:
        """Whether Redis answers (as far as this worker knows)."""
        return self.link is None or bool(self.link.up)

    def _down(self, exc: BaseException) -> None:
        if self.link is None:
            raise exc
        self.link.failed(exc)

    def open(self, spider: Any) -> None:
        self.spider = spider
        self.queue = LeasedQueue(
            server=self.server,
            spider=spider,
            key=self.queue_key,
            serializer=self.serializer,
            lease_timeout=self.lease_timeout,
            host_root=self.host_root,
            host_concurrency=self.host_concurrency,
        )
        if not self.df:
            from scrapy.utils.misc import load_object

            cls = load_object(self.dupefilter_cls)
            self.df = cls(self.server, key=self.dupefilter_key, debug=False)
        queued, leased = self.queue.counts()
        if queued or leased:
            logger.info("Joining a run: %d requests queued, %d leased", queued, leased)

    def close(self, reason: str) -> None:
        for call in (self._wake, self._flush_call):
            if call is not None and call.active():
                call.cancel()
        self.settle()
        self.flush()
        if not self.up:
            if self.held or self._unacked:
                logger.warning(
                    "Redis unreachable at close: %d leases run out by themselves",
                    len(self.held) + len(self._unacked),
                )
            return
        # Whatever this worker still holds goes back to the queue at once, not after the lease.
        try:
            if self.held:
                self.server.zadd(self.queue.leases_key, dict.fromkeys(self.held, 0), xx=True)
                self.queue.expire()
                logger.info("Handed %d leases back to the queue at close", len(self.held))
                if self.stats:
                    self.stats.inc_value("newswarc/redis/handed_back", len(self.held))
                self._release_slots(list(self.held.values()))
                self.held.clear()
        except DOWN_ERRORS as exc:
            logger.warning("Redis unreachable at close (%s): leases run out by themselves", exc)

    def _fingerprint(self, request: Request) -> str:
        return "" if request.dont_filter else str(self.df.request_fingerprint(request))

    def enqueue_request(self, request: Request) -> bool:
        # scrapy-redis's, without the spider argument Scrapy 2.19's stats deprecate, and with
        # the seen-set check and the push in one step.
        if not self.up or self._unpushed:
            self._unpushed.append(request)
            return True
        try:
            pushed = self.queue.push_new([(request, self._fingerprint(request))], self.df.key)
        except DOWN_ERRORS as exc:
            self._down(exc)
            self._unpushed.append(request)
            return True
        if not pushed:
            self.df.log(request, self.spider)
            return False
        self._counts = (0.0, 0, 0)
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def seed(self, requests: list[Request], seed_key: str, owner: str) -> bool:
        """Queue the run's start requests and mark it seeded, in one step.

        Returns:
            False if ``owner`` no longer holds the seeding claim (another worker took it over).

        """
        pairs = [(r, self._fingerprint(r)) for r in requests]
        pushed = self.queue.push_new(pairs, self.df.key, seed_key=seed_key, owner=owner)
        if pushed < 0:
            return False
        self._counts = (0.0, 0, 0)
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis", pushed)
        return True

    def next_request(self) -> Request | None:
        self.settle()
        if not self.up:
            return None  # nothing new while Redis is away; what is in flight goes on
        acks, releases = self._unacked, self._unreleased
        try:
            request = self.queue.pop(skip=self._unsent_hosts(), acks=acks, releases=releases)
        except DOWN_ERRORS as exc:
            self._down(exc)
            return None
        # Sent (a Redis that never answered: kept and sent again, acks and ZREMs repeat fine).
        self._unacked, self._unreleased = [], []
        if request is None:
            if self.queue.busy:
                # Work is queued, for hosts busy elsewhere: look again soon, not at the poll.
                if self.stats:
                    self.stats.inc_value("newswarc/redis/take_all_busy")
                self._wake_soon()
            return None
        self.held[request.meta[LEASE]] = request
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def settle(self) -> None:
        """Acknowledge the leases of requests the engine is done with."""
        engine = self.crawler.engine if self.crawler is not None else None
        slot = getattr(engine, "_slot", None)
        if slot is None or not self.held:
            return
        # Scrapy keeps a request in the slot's in-progress set from download until its response
        # was scraped and every item it gave passed the pipelines; no public signal says that.
        done = [lease for lease, req in self.held.items() if req not in slot.inprogress]
        if not done:
            return
        # A request dropped before its response (offsite, robots.txt) still held its slot.
        requests = [self.held.pop(lease) for lease in done]
        self._unacked.extend(done)
        self._unreleased += [r.meta.pop(SLOT) for r in requests if SLOT in r.meta]
        if self.stats:
            self.stats.inc_value("newswarc/redis/acked", len(done))
        # Sent with the next take (the engine asks for one when a request is done), or by
        # itself a moment later if no take comes.
        self._flush_soon()

    def release(self, host: str, token: str) -> None:
        """Give a host slot back: with the next take, or by itself a moment later."""
        self._unreleased.append((host, token))
        self._flush_soon()

    def take_releases(self) -> list[tuple[str, str]]:
        """Return the slot releases not sent yet, to send in another round trip (and forget)."""
        if not self.up:
            return []
        releases, self._unreleased = self._unreleased, []
        return releases

    def release_all(self, releases: list[tuple[str, str]]) -> None:
        """Keep slot releases that could not be sent (Redis did not answer)."""
        self._unreleased[:0] = releases

    def _flush_soon(self, delay: float = 0.02) -> None:
        if self._flush_call is not None and self._flush_call.active():
            return
        if not (self._unacked or self._unreleased):
            return
        from twisted.internet import reactor

        clock: Any = reactor
        self._flush_call = clock.callLater(delay, self.flush)

    def flush(self) -> None:
        """Send the acknowledgements and slot releases not sent with a take yet."""
        if not self.up or not (self._unacked or self._unreleased):
            return
        try:
            self._send_kept_acks()
        except DOWN_ERRORS as exc:
            self._down(exc)

    def _send_kept_acks(self) -> None:
        # Each list is emptied only once Redis took it: a failure leaves it for the next try.
        if self._unacked:
            self.queue.ack(self._unacked)
            self._unacked = []
        if self._unreleased:
            self._zrem_slots(self._unreleased)
            self._unreleased = []

    def back(self) -> None:
        """Redis answers again: send what was kept, renew this worker's leases.

        Other workers' leases that ran out during the outage are put back only a lease time
        later: their workers, alive, renew them when they too see Redis again.
        """
        self._send_kept_acks()
        while self._unpushed:
            batch = self._unpushed[:100]
            pairs = [(r, self._fingerprint(r)) for r in batch]
            pushed = self.queue.push_new(pairs, self.df.key)
            del self._unpushed[: len(batch)]
            if self.stats:
                self.stats.inc_value("scheduler/enqueued/redis", pushed)
        self._counts = (0.0, 0, 0)
        self._expire_after = time.monotonic() + self.lease_timeout
        held = self.queue.renew(list(self.held))
        if held < len(self.held) and self.stats:
            self.stats.inc_value("newswarc/redis/leases_lost", len(self.held) - held)

    def _unsent_hosts(self) -> set[str]:
        # With one slot per host, a second request of a host this worker is about to send would
        # only wait for the first one's slot.
        if self.host_concurrency != 1:
            return set()
        return {urlparse_cached(r).hostname or "" for r in self.held.values() if SENT not in r.meta}

    def _release_slots(self, requests: list[Request]) -> None:
        held = [r.meta.pop(SLOT) for r in requests if SLOT in r.meta]
        if not held:
            return
        if not self.up:
            self._unreleased.extend(held)
            return
        try:
            self._zrem_slots(held)
        except DOWN_ERRORS as exc:
            self._down(exc)
            self._unreleased.extend(held)

    def _zrem_slots(self, held: list[tuple[str, str]]) -> None:
        pipe = self.server.pipeline(transaction=False)
        for host, token in held:
            pipe.zrem(f"{self.host_root}:host:{host}:slots", token)
        pipe.execute()

    def _wake_soon(self, delay: float = 0.05) -> None:
        if self._wake is not None and self._wake.active():
            return
        from twisted.internet import reactor

        clock: Any = reactor
        engine = self.crawler.engine if self.crawler is not None else None

        def wake() -> None:
            slot = getattr(engine, "_slot", None)
            if slot is not None and slot.closing is None:
                slot.nextcall.schedule()

        self._wake = clock.callLater(delay, wake)

    def renew(self) -> None:
        """Extend this worker's leases and put other workers' run-out leases back."""
        self.settle()
        if not self.up:
            return
        self.flush()
        held = self.queue.renew(list(self.held))
        if held < len(self.held) and self.stats:
            self.stats.inc_value("newswarc/redis/leases_lost", len(self.held) - held)
        if time.monotonic() < self._expire_after:
            return
        expired = self.queue.expire()
        if expired:
            logger.warning("Put %d expired leases back into the queue", expired)
            if self.stats:
                self.stats.inc_value("newswarc/redis/requeued", expired)

    def counts(self, max_age: float = 0.2) -> tuple[int, int]:
        """Return (queued, leased) across the cluster, at most ``max_age`` seconds old.

        While Redis is unreachable: the last known counts.
        """
        at, queued, leased = self._counts
        now = time.monotonic()
        if now - at > max_age and self.up:
            try:
                queued, leased = self.queue.counts()
                self._counts = (now, queued, leased)
            except DOWN_ERRORS as exc:
                self._down(exc)
        return queued, leased

    def has_pending_requests(self) -> bool:
        self.settle()
        if not self.up or self._unpushed:
            return True  # not known until Redis answers
        if self._unacked:
            return True  # this worker's own, acknowledged with the next take
        queued, leased = self.counts()
        return queued + leased > 0

    def __len__(self) -> int:
        return self.counts()[0]
