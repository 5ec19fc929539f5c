"""Work fed through Redis: ``newswarc enqueue``, ``newswarc worker`` and ``newswarc status``."""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

log = logging.getLogger("newswarc.worker")

SCRAPY = str(Path(sys.executable).parent / "scrapy")


def active_key(root: str) -> str:
    """Return the key of the runs waiting for or in the hands of workers (name to job)."""
    return f"{root}:active"


def run_keys(root: str, run: str) -> dict[str, str]:
    """Return the keys of one run (crawler/distributed.py and redisqueue.py write them)."""
    base = f"{root}:run:{run}"
    return {
        "requests": f"{base}:requests",
        "leases": f"{base}:requests:leases",
        "seed": f"{base}:seed",
        "dupefilter": f"{base}:dupefilter",
        "workers": f"{base}:workers",
        "instance": f"{base}:instance",
    }


def enqueue_run(server: redis.Redis, root: str, run: str, arguments: dict[str, str]) -> bool:
    """Add a run of the spider with ``arguments``; False if that run is already active.

    One run per name at a time: a site enqueued while its last run is queued or crawling is not
    enqueued again.
    """
    job = json.dumps({"arguments": arguments, "enqueued": datetime.now(UTC).isoformat()})
    if not server.hsetnx(active_key(root), run, job):
        return False
    keys = run_keys(root, run)
    # A fresh run: no seen set or seed left by an interrupted one of the same name.
    server.delete(keys["seed"], keys["dupefilter"], keys["instance"])
    return True


def site_run(name: str) -> str:
    """Name the run of a site config: one at a time per site."""
    return f"site-{name}"


def urls_run(urls: Sequence[str]) -> str:
    """Name the run of on-demand URLs."""
    digest = hashlib.sha1("\n".join(urls).encode(), usedforsecurity=False).hexdigest()
    return f"urls-{digest[:12]}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _client(args: argparse.Namespace) -> tuple[redis.Redis, str]:
    url = args.redis_url or os.environ.get("NEWSWARC_REDIS_URL")
    if not url:
        raise SystemExit("newswarc: set NEWSWARC_REDIS_URL (or --redis-url)")
    client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10)
    return client, args.prefix


def _due_sites(sites_dir: Path, server: redis.Redis, root: str, now: datetime) -> list[Any]:
    from crawler.schedule import cron_due
    from crawler.sites import SiteConfigError, load_site

    due = []
    for path in sorted(sites_dir.glob("*.toml")):
        try:
            site = load_site(str(path), sites_dir)
        except SiteConfigError as exc:
            log.error("%s", exc)
            continue
        last = server.hget(f"{root}:enqueued", site.name)
        since = datetime.fromisoformat(_text(last)) if last else None
        if site.cron and cron_due(site.cron, since, now):
            due.append(site)
    return due


def cmd_enqueue(args: argparse.Namespace) -> int:
    """Put site runs or on-demand URLs into the shared queue."""
    from crawler.sites import SITES_DIR, SiteConfigError, load_site

    server, root = _client(args)
    sites_dir = Path(args.sites or SITES_DIR)
    now = datetime.now(UTC)
    jobs: list[tuple[str, dict[str, str], str | None]] = []
    try:
        if args.all_due:
            jobs += [
                (site_run(s.name), {"site": str(s.path)}, s.name)
                for s in _due_sites(sites_dir, server, root, now)
            ]
        for name in args.site or []:
            site = load_site(name, sites_dir)
            jobs.append((site_run(site.name), {"site": str(site.path)}, site.name))
    except SiteConfigError as exc:
        print(f"newswarc enqueue: {exc}", file=sys.stderr)
        return 2
    if args.urls:
        jobs.append((urls_run(args.urls), {"url": ",".join(args.urls)}, None))
    if not jobs and not args.all_due:
        print("newswarc enqueue: give --site NAME, --all-due or URLs", file=sys.stderr)
        return 2
    for run, arguments, site_name in jobs:
        if enqueue_run(server, root, run, arguments):
            print(f"enqueued {run}")
        else:
            print(f"{run} is already queued or running: not enqueued again")
        if site_name:
            server.hset(f"{root}:enqueued", site_name, now.isoformat())
    return 0


def _pick(server: redis.Redis, root: str) -> tuple[str, dict[str, str]] | None:
    """Return the active run with the fewest workers, or None when there is no work."""
    best: tuple[int, str, dict[str, str]] | None = None
    for raw_run, raw_job in server.hgetall(active_key(root)).items():
        run = _text(raw_run)
        workers = int(server.hlen(run_keys(root, run)["workers"]))
        arguments = json.loads(raw_job)["arguments"]
        if best is None or workers < best[0]:
            best = (workers, run, arguments)
    return (best[1], best[2]) if best else None


def cmd_worker(args: argparse.Namespace) -> int:
    """Take runs from Redis and crawl them, one at a time, until stopped."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    server, root = _client(args)
    stopping: list[int] = []
    child: list[subprocess.Popen[bytes]] = []

    def stop(signum: int, frame: Any) -> None:
        stopping.append(signum)
        for proc in child:
            proc.send_signal(signal.SIGTERM)  # the crawl closes; its leases go back

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    failures = 0
    while not stopping:
        try:
            picked = _pick(server, root)
        except redis.RedisError as exc:
            log.warning("Redis unreachable (%s); trying again in %.0f s", exc, args.poll * 5)
            time.sleep(args.poll * 5)
            continue
        if picked is None:
            if args.once:
                break
            time.sleep(args.poll)  # idle: one HGETALL every poll interval
            continue
        run, arguments = picked
        cmd = [SCRAPY, "crawl", "news"]
        for key, value in arguments.items():
            cmd += ["-a", f"{key}={value}"]
        cmd += ["-s", f"NEWSWARC_REDIS_RUN={run}", "-s", f"NEWSWARC_REDIS_PREFIX={root}"]
        cmd += [item for setting in args.set or [] for item in ("-s", setting)]
        log.info("run %s: %s", run, " ".join(cmd))
        proc = subprocess.Popen(cmd, env={**os.environ, "NEWSWARC_REDIS_URL": server_url(args)})
        child[:] = [proc]
        code = proc.wait()
        child.clear()
        log.info("run %s: crawl exited %s", run, code)
        if code != 0 and not stopping:
            failures += 1
            # A run that cannot start (a broken config) must not keep every worker busy.
            keys = run_keys(root, run)
            if not server.exists(keys["requests"], keys["leases"]):
                server.hdel(active_key(root), run)
                server.hset(f"{root}:failed", run, json.dumps({"exit_code": code}))
                log.error("run %s failed (exit %s): removed from the active runs", run, code)
    return 1 if failures and args.once else 0


def server_url(args: argparse.Namespace) -> str:
    """Return the Redis URL the worker and its crawls use."""
    return str(args.redis_url or os.environ.get("NEWSWARC_REDIS_URL"))


# A run's figures in one round trip, the time from Redis's clock (lease expiries are on it).
_RUN_COUNTS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return {
  redis.call('ZCARD', KEYS[1]),
  redis.call('ZCARD', KEYS[2]),
  redis.call('ZCOUNT', KEYS[2], '-inf', now),
  redis.call('HLEN', KEYS[3]),
}
"""


def run_counts(server: redis.Redis, root: str, run: str) -> dict[str, int]:
    """Return a run's requests queued and leased, leases run out, and workers, in one call.

    Args:
        server: The Redis client.
        root: The key prefix (``NEWSWARC_REDIS_PREFIX``).
        run: The run's name.

    Returns:
        ``queued``, ``leased`` (by any worker, expired ones included), ``expired`` (leases
        whose time ran out and that no worker has put back into the queue yet: a worker died
        or hangs) and ``workers`` (crawls that said they are alive).

    """
    keys = run_keys(root, run)
    script = server.register_script(_RUN_COUNTS)
    queued, leased, expired, workers = script(
        keys=[keys["requests"], keys["leases"], keys["workers"]]
    )
    return {
        "queued": int(queued),
        "leased": int(leased),
        "expired": int(expired),
        "workers": int(workers),
    }


def _started(row: dict[str, Any]) -> float | None:
    """When a worker's crawl started: its row's ``started``, else its crawl id's time."""
    started = row.get("started")
    if isinstance(started, int | float):
        return float(started)
    crawl_id = str(row.get("crawl_id") or "")
    try:
        when = datetime.strptime(crawl_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:  # a crawl id given by NEWSWARC_CRAWL_ID, or none yet
        return None
    return when.timestamp()


def worker_rows(server: redis.Redis, root: str, run: str, now: float) -> list[dict[str, Any]]:
    """Return each worker of a run as its heartbeat left it, with its rate.

    ``pages_per_second`` is the pages it fetched over the time from its crawl's start to its
    last heartbeat (None while that is unknown or zero); ``seen_ago`` the seconds since
    that heartbeat.
    """
    rows = []
    for worker, raw in sorted(server.hgetall(run_keys(root, run)["workers"]).items()):
        row = json.loads(raw)
        seen = float(row.get("seen") or now)
        started = _started(row)
        pages = int(row.get("pages") or 0)
        elapsed = seen - started if started is not None else 0.0
        rows.append(
            {
                "worker": _text(worker),
                "crawl_id": row.get("crawl_id"),
                "pages": pages,
                "leases": int(row.get("leases") or 0),
                "seen_ago": round(max(0.0, now - seen), 1),
                "pages_per_second": round(pages / elapsed, 3) if elapsed > 0 else None,
            }
        )
    return rows


def status(server: redis.Redis, root: str) -> dict[str, Any]:
    """Return the active runs (queue, leases, workers and their rates) and the failed ones."""
    now = time.time()
    runs = []
    for raw_run, raw_job in sorted(server.hgetall(active_key(root)).items()):
        run = _text(raw_run)
        job = json.loads(raw_job)
        workers = worker_rows(server, root, run, now)
        rates = [w["pages_per_second"] for w in workers if w["pages_per_second"] is not None]
        runs.append(
            {
                "run": run,
                "arguments": job.get("arguments", {}),
                "enqueued": job.get("enqueued"),
                **run_counts(server, root, run),
                "pages_per_second": round(sum(rates), 3) if rates else None,
                "worker_rows": workers,
            }
        )
    failed = {_text(run): json.loads(raw) for run, raw in server.hgetall(f"{root}:failed").items()}
    return {"runs": runs, "failed": failed}


def _rate(value: float | None) -> str:
    return "- pages/s" if value is None else f"{value:.2f} pages/s"


def cmd_status(args: argparse.Namespace) -> int:
    """Print the active runs: queued and leased requests, and each worker's figures."""
    server, root = _client(args)
    found = status(server, root)
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    if not found["runs"]:
        print("no active runs")
    for run in found["runs"]:
        print(
            f"{run['run']}  queued {run['queued']}  leased {run['leased']} "
            f"({run['expired']} expired)  workers {run['workers']}  "
            f"{_rate(run['pages_per_second'])}  since {run['enqueued']}"
        )
        for w in run["worker_rows"]:
            print(
                f"  {w['worker']}  crawl {w['crawl_id']}  pages {w['pages']}  "
                f"{_rate(w['pages_per_second'])}  leases {w['leases']}  "
                f"seen {w['seen_ago']:.0f} s ago"
            )
    for run, why in sorted(found["failed"].items()):
        print(f"{run}  failed (exit {why.get('exit_code')})")
    return 0


def register(subparsers: Any) -> None:
    """Add ``enqueue``, ``worker`` and ``status`` to the ``newswarc`` command.

    Args:
        subparsers: What ``ArgumentParser.add_subparsers()`` returned.

    """

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--redis-url", help="default: $NEWSWARC_REDIS_URL")
        p.add_argument("--prefix", default="newswarc", help="key prefix (NEWSWARC_REDIS_PREFIX)")

    p = subparsers.add_parser("enqueue", help="put site runs or URLs into the shared queue")
    p.add_argument("urls", nargs="*", help="article URLs to fetch on demand")
    p.add_argument("--site", action="append", help="a site config (name or path); repeatable")
    p.add_argument("--all-due", action="store_true", help="every site whose cron fired")
    p.add_argument("--sites", metavar="DIR", help="site configs folder (default settings/sites)")
    common(p)
    p.set_defaults(func=cmd_enqueue)

    p = subparsers.add_parser("worker", help="crawl runs taken from Redis until stopped")
    p.add_argument("--poll", type=float, default=2.0, help="seconds between looks when idle")
    p.add_argument("--once", action="store_true", help="exit when no run is active")
    p.add_argument("-s", "--set", action="append", help="NAME=VALUE Scrapy setting for crawls")
    common(p)
    p.set_defaults(func=cmd_worker)

    p = subparsers.add_parser("status", help="active runs: queue, leases, workers")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    common(p)
    p.set_defaults(func=cmd_status)
