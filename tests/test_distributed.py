"""Distributed crawl on scrapy-redis: the switch, leases, workers killed, one archive."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from scrapy.settings import Settings
from warcio.archiveiterator import ArchiveIterator

from crawler.distributed import DistributedAddon
from crawler.redisqueue import LEASE, LeasedQueue
from tests.archivecheck import check_warc_file
from tests.crawlrun import read_jsonl_gz, start_crawl
from tests.site import NewsSite

NEWSWARC = str(Path(sys.executable).parent / "newswarc")


def _settings(module: str, **extra: Any) -> Settings:
    settings = Settings()
    settings.setmodule(module, priority="project")
    for key, value in extra.items():
        settings.set(key, value, priority="cmdline")
    DistributedAddon().update_settings(settings)
    return settings


def test_the_redis_url_alone_switches_any_environment_to_the_distributed_wiring() -> None:
    plain = _settings("settings.test")
    assert plain.get("SCHEDULER") == "scrapy.core.scheduler.Scheduler"
    assert plain.get("NEWSWARC_STATE_BACKEND") == "sqlite"
    assert "crawler.distributed.RedisWorker" not in plain.getdict("EXTENSIONS")
    on = _settings("settings.test", NEWSWARC_REDIS_URL="redis://127.0.0.1:1/0")
    assert on.get("SCHEDULER") == "crawler.redisqueue.LeaseScheduler"
    assert on.get("DUPEFILTER_CLASS") == "scrapy_redis.dupefilter.RFPDupeFilter"
    assert on.getbool("SCHEDULER_PERSIST") is True
    assert on.get("NEWSWARC_STATE_BACKEND") == "redis"
    assert on.getdict("SPIDER_MIDDLEWARES") == {"crawler.distributed.SeedOnce": 10}
    extensions = on.getdict("EXTENSIONS")
    assert extensions["crawler.distributed.RedisWorker"] == 90
    assert extensions["crawler.extensions.ArchiveExtension"] == 100  # merged, not replaced
    # The test environment's own overrides stay.
    assert on.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == 16
    assert on.get("NEWSWARC_ALLOWED_NETWORKS") == ["127.0.0.1/32"]
    # SCRAPY_PROJECT=distributed: the same wiring from the module itself.
    module = _settings("settings.distributed")
    for key in ("SCHEDULER", "DUPEFILTER_CLASS", "NEWSWARC_STATE_BACKEND"):
        assert module.get(key) == on.get(key)


def _queue(server: Any, lease_timeout: float) -> LeasedQueue:
    from scrapy import Spider

    spider = Spider("news")
    return LeasedQueue(server, spider, "t:requests", lease_timeout=lease_timeout, worker="w1")


def test_scrapy_redis_forgets_a_taken_request_the_leased_queue_does_not(redis_db: Any) -> None:
    from scrapy import Request, Spider
    from scrapy_redis.queue import PriorityQueue

    server = redis_db.client()
    # scrapy-redis 0.9: pop removes the request from Redis. A worker SIGKILLed now loses it.
    plain = PriorityQueue(server, Spider("news"), "p:requests")
    plain.push(Request("http://127.0.0.1:9/a"))
    assert plain.pop() is not None
    assert server.keys("p:*") == []  # nowhere in Redis any more
    # Ours: taken under a lease that expires back into the queue if nobody acknowledges it.
    queue = _queue(server, lease_timeout=0.3)
    queue.push(Request("http://127.0.0.1:9/a", priority=5))
    queue.push(Request("http://127.0.0.1:9/b"))
    first = queue.pop()
    assert first is not None and first.url.endswith("/a") and first.meta[LEASE] == "w1:1"
    assert queue.counts() == (1, 1)
    assert queue.expire() == 0  # not run out yet
    time.sleep(0.4)
    assert queue.expire() == 1
    assert queue.counts() == (2, 0)
    again = queue.pop()
    assert again is not None and again.url.endswith("/a")  # back with its priority
    assert LEASE not in queue._decode_request(queue._encode_request(again)).meta
    assert queue.renew([again.meta[LEASE]]) == 1
    queue.ack([again.meta[LEASE]])
    assert queue.renew([again.meta[LEASE]]) == 0  # gone: an ack is final
    time.sleep(0.4)
    assert queue.expire() == 0
    assert queue.counts() == (1, 0)


def test_the_take_hands_out_a_request_of_a_free_host_not_the_best_of_a_busy_one(
    redis_db: Any,
) -> None:
    from scrapy import Request, Spider

    server = redis_db.client()
    queue = LeasedQueue(
        server, Spider("news"), "t:requests", worker="w1", host_root="t", host_concurrency=1
    )
    for k in range(2):
        queue.push(Request(f"http://busy.test/{k}", priority=5))
    queue.push(Request("http://free.test/", priority=0))
    queue.push(Request("http://later.test/", priority=0))
    # busy.test has its one cluster slot taken (another worker downloads from it), later.test
    # is inside its crawl delay.
    server.zadd("t:host:busy.test:slots", {"other-worker": time.time() * 1000 + 60_000})
    server.set("t:host:later.test:next", int(time.time() * 1000) + 60_000)
    first = queue.pop()
    assert first is not None and first.url == "http://free.test/"  # below busy.test's priority
    assert queue.pop() is None and queue.busy is True  # queued, but every host is busy
    assert queue.counts() == (3, 1)
    server.delete("t:host:busy.test:slots")
    assert queue.pop(skip=["busy.test"]) is None  # this worker is about to send one of its own
    again = queue.pop()
    assert again is not None and again.url.startswith("http://busy.test/")  # free: its priority
    server.delete("t:host:later.test:next")
    third = queue.pop(skip=["busy.test"])
    assert third is not None and third.url == "http://later.test/"
    # The lease copy keeps the host mark and goes back as it was.
    assert queue.expire() == 0
    server.zadd("t:requests:leases", {again.meta[LEASE]: 0}, xx=True)
    assert queue.expire() == 1
    back = queue.pop(skip=["later.test"])
    assert back is not None and back.url.startswith("http://busy.test/")
    assert queue.counts() == (1, 3)  # busy.test's other page; free, later and busy leased


def test_the_take_sends_acks_and_slot_releases_first_and_can_hand_out_the_host_freed(
    redis_db: Any,
) -> None:
    from scrapy import Request, Spider

    server = redis_db.client()
    queue = LeasedQueue(
        server, Spider("news"), "t:requests", worker="w1", host_root="t", host_concurrency=1
    )
    queue.push(Request("http://one.test/a"))
    queue.push(Request("http://one.test/b"))
    first = queue.pop()
    assert first is not None
    # Its download holds one.test's only cluster slot: the other page waits.
    server.zadd("t:host:one.test:slots", {"token-a": time.time() * 1000 + 60_000})
    assert queue.pop() is None and queue.busy is True
    # It is done: acknowledged and its slot given back in the next take, which hands out
    # the other page of the host just freed.
    second = queue.pop(acks=[first.meta[LEASE]], releases=[("one.test", "token-a")])
    assert second is not None and second.url != first.url
    assert server.zscore("t:requests:leases", first.meta[LEASE]) is None
    assert server.hget("t:requests:leased", first.meta[LEASE]) is None
    assert server.zcard("t:host:one.test:slots") == 0
    assert queue.counts() == (0, 1)


def test_scrapy_redis_scheduler_would_close_a_worker_while_others_still_work(
    redis_db: Any,
) -> None:
    from scrapy import Request
    from scrapy_redis.scheduler import Scheduler

    from crawler.redisqueue import LeaseScheduler

    server = redis_db.client()
    queue = _queue(server, lease_timeout=30)
    queue.push(Request("http://127.0.0.1:9/listing"))
    assert queue.pop() is not None  # another worker took the listing and is fetching it
    # scrapy-redis counts only the queue: this worker would go idle and close, though the
    # listing being fetched elsewhere will add the run's articles in a moment.
    plain = Scheduler(server, queue_key="t:requests", persist=True)
    plain.queue = queue
    assert plain.has_pending_requests() is False
    ours = LeaseScheduler(server, lease_timeout=30, queue_key="t:requests", persist=True)
    ours.queue = queue
    assert ours.has_pending_requests() is True


@pytest.mark.e2e
def test_a_bad_redis_url_or_refused_password_stops_with_one_critical_line(
    redis_db: Any, tmp_path: Path
) -> None:
    from tests.crawlrun import run_crawl

    cases = {
        "redis://127.0.0.1:notaport/0": "Port could not be cast to integer",
        redis_db.url.replace(redis_db.password, "wrong-password"): "invalid",
    }
    for url, why in cases.items():
        result = run_crawl(
            tmp_path,
            ["-a", "url=http://127.0.0.1:9/news/2026/12/01/never.html"],
            {"NEWSWARC_ARCHIVE_URI": str(tmp_path / "a")},
            env={"NEWSWARC_REDIS_URL": url},
            timeout=60,
        )
        assert result.returncode == 1, result.log[-2000:]
        critical = [ln for ln in result.log.splitlines() if "CRITICAL" in ln]
        assert len(critical) == 1, result.log[-2000:]
        assert "NEWSWARC_REDIS_URL" in critical[0] and why in critical[0], critical[0]
        assert "wrong-password" not in result.log
        assert "Traceback" not in result.log


def _articles(archive: Path) -> list[dict[str, Any]]:
    return [r for p in archive.glob("articles/*/*/*/*.jsonl.gz") for r in read_jsonl_gz(p)]


@pytest.mark.e2e
def test_three_workers_one_killed_archive_every_article_once(
    redis_db: Any, tmp_path: Path, local_crawl: Any
) -> None:
    # The same site as the single-process crawl, answering slowly so the kill lands mid-crawl.
    site = NewsSite(delay=0.4).start()
    expected = sorted(urlsplit(r["url"]).path for r in _articles(local_crawl["archive"]))
    archive = tmp_path / "archive"
    args = ["-a", f"start_urls={site.base_url}/"]
    env = {"NEWSWARC_REDIS_URL": redis_db.url}

    def worker(name: str) -> subprocess.Popen[str]:
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        settings = {
            "NEWSWARC_ARCHIVE_URI": archive,
            "NEWSWARC_SPOOL_DIR": tmp_path / f"spool-{name}",
            "NEWSWARC_REDIS_LEASE_TIMEOUT": 1.5,
            "NEWSWARC_REDIS_POLL_INTERVAL": 0.1,
            "CONCURRENT_REQUESTS": 1,
        }
        return start_crawl(folder, args, settings, env)

    try:
        workers = {name: worker(name) for name in ("w1", "w2", "w3")}
        victim = tmp_path / "spool-w2"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(f.stat().st_size for f in victim.glob("warc/*/*/*/*.warc.gz.open")):
                break
            time.sleep(0.05)
        time.sleep(0.5)  # a capture or two more: a request taken and in flight
        os.kill(workers["w2"].pid, signal.SIGKILL)
        workers["w2"].communicate()
        # Restarted on its own spool, as an orchestrator would: it recovers what the killed
        # process left and joins the run.
        workers["w2b"] = worker("w2")
        logs = {}
        for name, proc in workers.items():
            if name == "w2":
                continue
            out, err = proc.communicate(timeout=120)
            logs[name] = err + out
            assert proc.returncode == 0, logs[name][-3000:]
    finally:
        site.stop()
    records = _articles(archive)
    paths = sorted(urlsplit(r["url"]).path for r in records)
    assert paths == expected  # every article, none twice
    assert {r["version"] for r in records} == {1}
    for warc in archive.glob("warc/*/*/*/*.warc.gz"):
        check_warc_file(warc)
    verify = subprocess.run(
        [NEWSWARC, "verify", str(archive)], check=False, capture_output=True, text=True, timeout=120
    )
    assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-2000:]
    requeued = sum("expired leases back into the queue" in log for log in logs.values())
    assert requeued >= 1, "the killed worker's leases were never put back"
    assert redis_db.client().keys("newswarc:run:*") == []  # the finished run forgot itself


def _members(path: Path) -> bytes:
    """Return the complete gzip members of a file still being written, decompressed."""
    data, out = path.read_bytes(), []
    while data:
        inflate = zlib.decompressobj(wbits=31)
        try:
            chunk = inflate.decompress(data)
        except zlib.error:
            break
        if not inflate.eof:
            break  # the member being written
        out.append(chunk)
        data = inflate.unused_data
    return b"".join(out)


@pytest.mark.e2e
def test_redis_stopped_20_s_mid_crawl_workers_wait_and_finish_with_nothing_lost(
    redis_db: Any, tmp_path: Path, local_crawl: Any
) -> None:
    site = NewsSite(delay=0.4).start()
    expected = sorted(urlsplit(r["url"]).path for r in _articles(local_crawl["archive"]))
    archive = tmp_path / "archive"
    procs = []
    try:
        for name in ("w1", "w2", "w3"):
            folder = tmp_path / name
            folder.mkdir()
            settings = {
                "NEWSWARC_ARCHIVE_URI": archive,
                "NEWSWARC_SPOOL_DIR": tmp_path / f"spool-{name}",
                "NEWSWARC_REDIS_LEASE_TIMEOUT": 3,
                "NEWSWARC_REDIS_POLL_INTERVAL": 0.1,
                "CONCURRENT_REQUESTS": 1,
            }
            args = ["-a", f"start_urls={site.base_url}/"]
            procs.append(start_crawl(folder, args, settings, {"NEWSWARC_REDIS_URL": redis_db.url}))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(site.requests) < 4:
            time.sleep(0.05)
        # An article asked for now is answered 6 s later, with Redis stopped.
        seen = len(site.requests)
        site.delay = 6.0
        slow = None
        while time.monotonic() < deadline and slow is None:
            slow = next((r["path"] for r in site.requests[seen:] if r["path"] in expected), None)
            time.sleep(0.01)
        assert slow is not None, "no article asked for"
        redis_db.stop()
        site.delay = 0.4
        during = len(site.requests)
        time.sleep(15)
        # The download in flight finished and was archived while Redis was still away: the
        # reactor was not blocked. Its capture is in a WARC; its article record waits for the
        # shared state to say which version it is (it is written once Redis is back, below).
        spools = [tmp_path / f"spool-{n}" for n in ("w1", "w2", "w3")]
        warc = b"".join(_members(f) for s in spools for f in s.glob("warc/**/*.warc.gz.open"))
        assert f"WARC-Target-URI: {site.base_url}{slow}".encode() in warc, slow
        batches = [_members(f) for s in spools for f in s.glob("articles/**/*.jsonl.gz.open")]
        written = [json.loads(line)["url"] for b in batches for line in b.splitlines()]
        assert f"{site.base_url}{slow}" not in written, (slow, written)
        time.sleep(5)
        assert len(site.requests) <= during + 3  # no new downloads (what was in flight ends)
        redis_db.start()
        logs = []
        for i, proc in enumerate(procs):
            out, err = proc.communicate(timeout=120)
            logs.append(err + out)
            (tmp_path / f"worker-{i}.log").write_text(logs[-1])
            assert proc.returncode == 0, logs[-1][-3000:]
    finally:
        site.stop()
    for log in logs:
        assert "Traceback" not in log, log[max(0, log.find("Traceback") - 1500) :][:4000]
    assert any("Redis unreachable" in log for log in logs)
    assert any("Redis answers again" in log for log in logs)
    records = _articles(archive)
    assert sorted(urlsplit(r["url"]).path for r in records) == expected  # all, none twice
    verify = subprocess.run(
        [NEWSWARC, "verify", str(archive)], check=False, capture_output=True, text=True, timeout=120
    )
    assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-2000:]


@pytest.mark.e2e
def test_a_worker_stopped_with_sigterm_hands_its_work_back_and_closes_its_warc(
    redis_db: Any, tmp_path: Path, local_crawl: Any
) -> None:
    site = NewsSite(delay=0.3).start()
    expected = sorted(urlsplit(r["url"]).path for r in _articles(local_crawl["archive"]))
    archive = tmp_path / "archive"
    args = ["-a", f"start_urls={site.base_url}/"]

    def worker(name: str) -> subprocess.Popen[str]:
        folder = tmp_path / name
        folder.mkdir()
        settings = {
            "NEWSWARC_ARCHIVE_URI": archive,
            "NEWSWARC_SPOOL_DIR": tmp_path / f"spool-{name}",
            # Far longer than the whole crawl: the other worker cannot wait for an expiry.
            "NEWSWARC_REDIS_LEASE_TIMEOUT": 600,
            "NEWSWARC_REDIS_POLL_INTERVAL": 0.1,
            # Several requests of the stopped worker in flight when the signal comes.
            "CONCURRENT_REQUESTS": 3,
        }
        return start_crawl(folder, args, settings, {"NEWSWARC_REDIS_URL": redis_db.url})

    try:
        stopped, other = worker("w1"), worker("w2")
        victim = tmp_path / "spool-w1"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(f.stat().st_size for f in victim.glob("warc/*/*/*/*.warc.gz.open")):
                break
            time.sleep(0.05)
        time.sleep(1.0)
        stopped.send_signal(signal.SIGTERM)
        out, err = stopped.communicate(timeout=120)
        stopped_log = err + out
        assert stopped.returncode == 0, stopped_log[-3000:]
        # It left no lease of its own to run out: each was acknowledged or handed back.
        server = redis_db.client()
        mark = b".%d:" % stopped.pid  # lease ids are HOST.PID:SERIAL
        leases = [x for k in server.keys("newswarc:run:*:leases") for x in server.zrange(k, 0, -1)]
        assert [x for x in leases if mark in x] == [], leases
        out, err = other.communicate(timeout=120)
        other_log = err + out
        (tmp_path / "stopped.log").write_text(stopped_log)
        (tmp_path / "other.log").write_text(other_log)
        assert other.returncode == 0, other_log[-3000:]
    finally:
        site.stop()
    assert "Closing spider (shutdown)" in stopped_log
    assert "Traceback" not in stopped_log + other_log
    # Nothing waited for a lease to run out: what the stopped worker held came back at once.
    assert "expired leases back into the queue" not in other_log
    assert "'newswarc/redis/requeued'" not in other_log
    records = _articles(archive)
    assert sorted(urlsplit(r["url"]).path for r in records) == expected  # all, none twice
    assert {r["version"] for r in records} == {1}
    # The stopped worker's WARC files are closed whole and uploaded; nothing left open.
    mine = [w for w in archive.glob("warc/*/*/*/*.warc.gz") if f".{stopped.pid}." in w.name]
    assert mine, sorted(w.name for w in archive.glob("warc/*/*/*/*.warc.gz"))
    for warc in mine:
        check_warc_file(warc)
        with warc.open("rb") as fh:
            assert sum(1 for _ in ArchiveIterator(fh)) > 0
    assert list(victim.glob("**/*.open")) == []
    assert redis_db.client().keys("newswarc:run:*") == []  # the run finished and forgot itself


def _seed_requests(n: int) -> list[Any]:
    from scrapy import Request

    return [Request(f"http://127.0.0.1:9/start/{k}") for k in range(n)]


def test_seeding_is_one_step_and_a_dead_seeders_claim_is_taken_over(redis_db: Any) -> None:
    from crawler.distributed import _CLAIM_SEED
    from crawler.redisqueue import LeaseScheduler

    server = redis_db.client()
    claim = server.register_script(_CLAIM_SEED)
    keys = ["r:seed", "r:instance"]

    def scheduler() -> LeaseScheduler:
        from scrapy import Spider
        from scrapy_redis.dupefilter import RFPDupeFilter

        made = LeaseScheduler(
            server, lease_timeout=30, queue_key="r:requests", dupefilter_key="r:dupefilter"
        )
        made.df = RFPDupeFilter(server, key="r:dupefilter")
        made.open(Spider("news"))
        return made

    # Worker A claims the seeding; B finds it claimed.
    assert claim(keys=keys, args=["seeding:A", 1, "crawl-A"]) == 1
    assert claim(keys=keys, args=["seeding:B", 1, "crawl-B"]) == 0
    # A is killed while it reads its start requests: it pushes them in one step at the end,
    # so nothing of the run is queued yet, not a part of it.
    assert server.zcard("r:requests") == 0
    time.sleep(1.2)  # A's claim runs out (nobody renews it)
    assert server.get("r:seed") is None and server.get("r:instance") == b"crawl-A"
    # B takes the seeding over and queues every start request, once, with the seeded mark.
    assert claim(keys=keys, args=["seeding:B", 30, "crawl-B"]) == 1
    b = scheduler()
    assert b.seed(_seed_requests(5), "r:seed", "seeding:B") is True
    assert server.get("r:seed") == b"seeded"
    assert server.zcard("r:requests") == 5 and server.scard("r:dupefilter") == 5
    assert server.get("r:instance") == b"crawl-A"  # one run, named once
    # A, had it only hung, finds its claim gone: its late push queues nothing.
    assert b.seed(_seed_requests(5), "r:seed", "seeding:A") is False
    assert server.zcard("r:requests") == 5
    # Once seeded, nobody claims the seeding again.
    assert claim(keys=keys, args=["seeding:C", 30, "crawl-C"]) == 0
    # The push and the seen-set check are one step: a known URL is not queued twice.
    assert b.enqueue_request(_seed_requests(1)[0]) is False
    assert server.zcard("r:requests") == 5


@pytest.mark.e2e
def test_a_run_whose_seeder_died_before_seeding_is_seeded_by_another_worker(
    redis_db: Any, tmp_path: Path, local_crawl: Any
) -> None:
    # What a seeder SIGKILLed while it read its start requests leaves: its claim (nobody
    # renews it: it runs out) and the run's instance, and nothing queued.
    server = redis_db.client()
    server.set("newswarc:run:seedless:seed", "seeding:dead.1", ex=120)
    server.set("newswarc:run:seedless:instance", "crawl-of-the-dead-seeder")
    site = NewsSite().start()
    expected = sorted(urlsplit(r["url"]).path for r in _articles(local_crawl["archive"]))
    archive = tmp_path / "archive"
    try:
        settings = {
            "NEWSWARC_ARCHIVE_URI": archive,
            "NEWSWARC_SPOOL_DIR": tmp_path / "spool",
            "NEWSWARC_REDIS_POLL_INTERVAL": 0.1,
            "NEWSWARC_REDIS_RUN": "seedless",
        }
        args = ["-a", f"start_urls={site.base_url}/"]
        proc = start_crawl(tmp_path, args, settings, {"NEWSWARC_REDIS_URL": redis_db.url})
        assert proc.stderr is not None
        head = []
        for line in proc.stderr:  # the worker's log, up to where it found the run claimed
            head.append(line)
            if "is seeded by another worker" in line:
                break
        time.sleep(1)
        assert server.zcard("newswarc:run:seedless:requests") == 0  # it waits for the seeder
        server.delete("newswarc:run:seedless:seed")  # the dead seeder's claim runs out
        out, err = proc.communicate(timeout=120)
        log = "".join(head) + err + out
        (tmp_path / "worker.log").write_text(log)
        assert proc.returncode == 0, log[-3000:]
    finally:
        site.stop()
    assert "is seeded by another worker" in log  # it joined while the claim was alive
    assert "seeding it here" in log
    assert sorted(urlsplit(r["url"]).path for r in _articles(archive)) == expected
    assert server.keys("newswarc:run:*") == []


@pytest.mark.e2e
def test_three_workers_fetch_each_hosts_robots_txt_once_and_keep_one_download_per_host(
    redis_db: Any, tmp_path: Path
) -> None:
    import json

    from tests.site.slowhosts import SlowHosts

    site = SlowHosts(hosts=4, pages=5, latency=0.1).start()
    procs = []
    try:
        for i in range(3):
            folder = tmp_path / f"w{i}"
            folder.mkdir()
            settings = {
                "NEWSWARC_ARCHIVE_URI": tmp_path / "archive",
                "NEWSWARC_SPOOL_DIR": folder / "spool",
                "NEWSWARC_REDIS_POLL_INTERVAL": 0.1,
                "NEWSWARC_REDIS_HOST_CONCURRENCY": 1,
                "CONCURRENT_REQUESTS": 4,
                "NEWSWARC_EXTRACT_WORKERS": 1,
                "TWISTED_DNS_RESOLVER": "tests.site.netguard.MadeUpNamesResolver",
                "NEWSWARC_TEST_HOSTS": json.dumps(site.hosts_map()),
            }
            args = ["-a", "start_urls=" + ",".join(site.start_urls())]
            procs.append(start_crawl(folder, args, settings, {"NEWSWARC_REDIS_URL": redis_db.url}))
        logs = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            logs.append(err + out)
            assert proc.returncode == 0, logs[-1][-3000:]
    finally:
        site.stop()
    robots = sorted(h for h, p, _ in site.served if p == "/robots.txt")
    # Scrapy's RobotsTxtMiddleware asks once per host in every worker: up to 12 fetches.
    assert robots == sorted(site.names), robots
    pages = [(h, p) for h, p, _ in site.served if p != "/robots.txt"]
    assert sorted(pages) == sorted(set(pages)) and len(pages) == 4 * 6  # each page once
    assert max(site.peak.values()) == 1, site.peak
    assert sum("'newswarc/redis/robots_shared'" in log for log in logs) >= 1
    # Archived once, by the worker that fetched it.
    warcs = [w for w in (tmp_path / "archive").glob("warc/*/*/*/*.warc.gz")]
    robots_records = 0
    for warc in warcs:
        from warcio.archiveiterator import ArchiveIterator

        with warc.open("rb") as fh:
            for record in ArchiveIterator(fh):
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                if record.rec_type == "response" and uri.endswith("/robots.txt"):
                    robots_records += 1
    assert robots_records == len(site.names)


@pytest.mark.e2e
def test_a_redis_away_past_the_patience_closes_the_crawl_cleanly(
    redis_db: Any, tmp_path: Path
) -> None:
    site = NewsSite(delay=0.4).start()
    archive = tmp_path / "archive"
    try:
        settings = {
            "NEWSWARC_ARCHIVE_URI": archive,
            "NEWSWARC_SPOOL_DIR": tmp_path / "spool",
            "NEWSWARC_REDIS_POLL_INTERVAL": 0.1,
            "NEWSWARC_REDIS_PATIENCE": 3,
            "CONCURRENT_REQUESTS": 2,
        }
        args = ["-a", f"start_urls={site.base_url}/"]
        proc = start_crawl(tmp_path, args, settings, {"NEWSWARC_REDIS_URL": redis_db.url})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(site.requests) < 4:
            time.sleep(0.05)
        redis_db.stop()
        out, err = proc.communicate(timeout=120)
        log = err + out
        (tmp_path / "worker.log").write_text(log)
    finally:
        site.stop()
    assert proc.returncode == 0, log[-3000:]  # no traceback, no crash: a crawl that ended
    assert "giving up" in log, log[-3000:]
    assert "Closing spider (redis_unreachable)" in log, log[-3000:]
    assert "Traceback" not in log, log[max(0, log.find("Traceback") - 1500) :][:4000]
    # What it wrote is closed whole and in the archive; nothing is left open in the spool.
    warcs = list(archive.glob("warc/*/*/*/*.warc.gz"))
    assert warcs
    for warc in warcs:
        check_warc_file(warc)
    assert list((tmp_path / "spool").glob("**/*.open")) == []


def test_during_an_outage_the_version_waits_for_redis_rather_than_guessing_1(
    redis_db: Any,
) -> None:
    from crawler.distributed import OutageState, RedisLink, fast_client
    from pipelines.redisstate import RedisState
    from pipelines.state import Version

    url = "http://news.example/2026/11/28/story.html"
    state = RedisState(fast_client(redis_db.url))
    state.add_version(Version(url, 1, "a" * 40, "2026-11-28T10:00:00Z", "crawl-1", "<urn:1>"))
    link = RedisLink(state.client, patience=60)
    outage = OutageState(state, state, link, None)
    assert outage.ready() is None  # Redis answers: nothing to wait for
    assert outage.latest_version(url) is not None
    redis_db.stop()
    try:
        # A lookup Redis cannot answer is "unknown"; the article writer must not take that
        # for "no earlier version": ready() says to wait.
        assert outage.latest_version(url) is None and not link.up
        waiting = outage.ready()
        assert waiting is not None and not waiting.called
    finally:
        redis_db.start()
    link._answered()  # what the link's probe does once PING is answered
    link.stop()
    assert waiting.called and outage.ready() is None
    latest = outage.latest_version(url)
    assert latest is not None and latest.version == 1 and latest.record_id == "<urn:1>"
