"""Distributed crawl throughput: the same crawl with 1, 2 and 4 workers sharing one Redis.

Serves a latency-bound site (every answer after ``--latency`` seconds, 200 ms by default) over
``--hosts`` host names on 127.0.0.1, with small pages so this machine's cores are not the bound,
and crawls it with N workers (``scrapy crawl news`` processes, settings.test, a real
redis-server, ``appendfsync everysec`` unless ``--appendfsync``) at the same per-host politeness:
one download per host for the whole cluster. The run's seeding is held until every worker has
joined and its processes are done starting (``ready s``), so the crawl is measured with every
worker up, not the workers' start-up one after another on this machine's cores.
Prints for each N: pages/s (from the first page served to the last, and over the wall time with
process start-up), speed-up against one worker, Redis commands per page (as Redis counts
them: a pipeline's one by one, and the commands a Lua script runs) and round trips per page
(what the workers' clients sent), peak RSS per worker, CPU used (workers and Redis) against
the machine's cores, and what other work used meanwhile (others' CPU: a busy machine slows the
4-worker crawl most). Then, from the workers' stats: robots.txt fetches, requests that went
back to the queue because their host was busy elsewhere (host_busy_requeued), waits for a host
slot, takes that found every host busy, robots.txt given from Redis (robots_shared); and the
requests in flight at the site, second by second (the ramp while workers start, the tail).

    .venv/bin/python bench/distributed.py [--hosts 32] [--pages 12] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.crawlrun import start_crawl  # noqa: E402
from tests.redisserver import RedisServer  # noqa: E402
from tests.site.slowhosts import SlowHosts  # noqa: E402

# Counters of the workers' stats dumps, summed over the workers.
_STAT = re.compile(r"'(newswarc/redis/[a-z_]+|robotstxt/request_count)': ([0-9.]+)")


def _peak_rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    """Return ``pid`` and every process below it (the worker's extraction processes)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in children.read_text().split()]
    return found


def _cpu_of(pids: list[int]) -> float:
    """Return the CPU seconds the processes used so far (utime + stime)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _wait_warm(procs: list[Any], window: float = 0.5, most: float = 0.1, cap: float = 30.0) -> None:
    """Wait until the workers are done starting: their process trees (each a Scrapy process and
    its extraction processes, which import trafilatura) use under ``most`` of a core for
    ``window`` seconds, or ``cap`` seconds have passed."""
    deadline = time.monotonic() + cap
    while time.monotonic() < deadline:
        pids = [p for proc in procs for p in _tree(proc.pid)]
        before = _cpu_of(pids)
        time.sleep(window)
        if _cpu_of(pids) - before < most * window:
            return


def _machine_busy() -> float:
    """Return the CPU seconds the whole machine was busy so far (every process, every core)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # all but idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _in_flight(site: SlowHosts, step: float = 1.0) -> list[float]:
    """Return the mean requests in flight at the site over each ``step`` seconds of the crawl."""
    t0 = min(t for _, _, t in site.started)
    events = sorted(
        [(t - t0, 1) for *_, t in site.started] + [(t - t0, -1) for *_, t in site.served]
    )
    sums: dict[int, float] = {}
    current, last = 0, 0.0
    for at, change in events:
        while last < at:
            edge = min(at, (int(last / step) + 1) * step)
            sums[int(last / step)] = sums.get(int(last / step), 0.0) + current * (edge - last)
            last = edge
        current += change
    return [round(sums.get(i, 0.0) / step, 1) for i in range(int(last / step) + 1)]


def run(workers: int, args: argparse.Namespace, redis: RedisServer, tmp: Path) -> dict[str, Any]:
    """Crawl the site once with ``workers`` workers and return the figures."""
    redis.flush()
    site = SlowHosts(hosts=args.hosts, pages=args.pages, latency=args.latency).start()
    client = redis.client()
    commands0 = int(client.info("stats")["total_commands_processed"])
    cpu = client.info("cpu")
    redis_cpu0 = float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])
    cpu0 = _children_cpu()
    machine0, self0 = _machine_busy(), _self_cpu()
    start = time.monotonic()
    # The run's seeding is held until every worker has joined, then let go: one of them seeds
    # it (the take-over of a seeding claim that ran out). Workers on this 2-core machine start
    # one after another in several seconds; without the hold the first crawls alone meanwhile
    # and the span measures process start-up, not the cluster (long-lived workers in
    # production are up before work is enqueued).
    run_key = "newswarc:run:bench"
    client.set(f"{run_key}:seed", "seeding:bench", ex=300)
    client.set(f"{run_key}:instance", f"bench-{workers}")
    procs = []
    for i in range(workers):
        folder = tmp / f"n{workers}-w{i}"
        folder.mkdir(parents=True)
        settings = {
            "NEWSWARC_ARCHIVE_URI": tmp / f"archive-{workers}",
            "NEWSWARC_SPOOL_DIR": folder / "spool",
            "NEWSWARC_REDIS_POLL_INTERVAL": 0.1,
            "NEWSWARC_REDIS_HOST_CONCURRENCY": 1,
            "CONCURRENT_REQUESTS": args.concurrency,
            "NEWSWARC_EXTRACT_WORKERS": 1,
            # INFO: the stats dump at close (requeues, slot waits, robots.txt shared) is read.
            "LOG_LEVEL": "INFO",
            "TWISTED_DNS_RESOLVER": "tests.site.netguard.MadeUpNamesResolver",
            "NEWSWARC_TEST_HOSTS": json.dumps(site.hosts_map()),
            "NEWSWARC_REDIS_RUN": "bench",
        }
        crawl_args = ["-a", "start_urls=" + ",".join(site.start_urls())]
        procs.append(start_crawl(folder, crawl_args, settings, {"NEWSWARC_REDIS_URL": redis.url}))
    peaks = [0] * workers
    while client.hlen(f"{run_key}:workers") < workers and any(p.poll() is None for p in procs):
        time.sleep(0.05)
    _wait_warm(procs)
    ready = time.monotonic() - start
    client.delete(f"{run_key}:seed")
    while any(p.poll() is None for p in procs):
        for i, proc in enumerate(procs):
            if proc.poll() is None:
                peaks[i] = max(peaks[i], _peak_rss_kib(proc.pid))
        time.sleep(0.2)
    codes = []
    counters: dict[str, float] = {}
    for proc in procs:
        out, err = proc.communicate()
        codes.append(proc.returncode)
        for key, value in _STAT.findall(err + out):
            counters[key] = counters.get(key, 0) + float(value)
    wall = time.monotonic() - start
    cpu_used = _children_cpu() - cpu0
    cpu = client.info("cpu")
    redis_cpu = float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]) - redis_cpu0
    commands = int(client.info("stats")["total_commands_processed"]) - commands0
    # What other work on the machine used meanwhile: every core's busy time minus this bench's
    # (the site's threads), its workers' (and their extraction processes') and Redis's.
    others = _machine_busy() - machine0 - (_self_cpu() - self0) - cpu_used - redis_cpu
    site.stop()
    pages = [s for s in site.served if s[1] != "/robots.txt"]
    robots = len(site.served) - len(pages)
    starts = [t for _, _, t in site.started]
    span = max(t for _, _, t in site.served) - min(starts)
    return {
        "workers": workers,
        "exit_codes": codes,
        "pages": len(pages),
        "robots": robots,
        "unique_pages": len({(h, p) for h, p, _ in pages}),
        "span_s": span,
        "wall_s": wall,
        "pages_per_s": len(pages) / span,
        "pages_per_s_wall": len(pages) / wall,
        "ready_s": ready,
        # Minus the bench's own: INFO, the seeding hold, HLEN polls (not counted exactly).
        "redis_commands_per_page": (commands - 1) / len(pages),
        "redis_round_trips_per_page": counters.get("newswarc/redis/round_trips", 0) / len(pages),
        "peak_rss_mib": [round(p / 1024, 1) for p in peaks],
        "cpu_s": cpu_used + redis_cpu,
        "cpu_share": (cpu_used + redis_cpu) / wall / (os.cpu_count() or 1),
        "others_cpu_share": max(0.0, others) / wall / (os.cpu_count() or 1),
        "peak_inflight_per_host": max(site.peak.values()),
        "counters": counters,
        "in_flight": _in_flight(site),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=32)
    parser.add_argument("--pages", type=int, default=12, help="pages per host besides its home")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=4, help="CONCURRENT_REQUESTS a worker")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument(
        "--appendfsync",
        default="everysec",
        choices=("always", "everysec", "no"),
        help="Redis AOF fsync policy (the tests use always)",
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="newswarc-bench-distributed-"))
    redis = RedisServer(tmp / "redis").start()
    # The test server fsyncs its append-only file on every write ("always"); Redis's own default
    # with AOF on is "everysec" (README: either). Every worker's round trip waits for that fsync.
    redis.client().config_set("appendfsync", args.appendfsync)
    try:
        results = [run(int(n), args, redis, tmp) for n in args.workers.split(",")]
    finally:
        redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    base = results[0]["pages_per_s"]
    print(
        f"site: {args.hosts} hosts x {args.pages + 1} pages, {args.latency * 1000:.0f} ms a "
        f"response, one download per host for the cluster, CONCURRENT_REQUESTS="
        f"{args.concurrency} a worker, {os.cpu_count()} cores, Redis appendfsync {args.appendfsync}"
    )
    print(
        "workers  pages  pages/s  speed-up  pages/s(wall)  ready s  redis cmd/page  "
        "round trips/page  peak RSS MiB/worker  CPU share  others' CPU  peak/host  exit"
    )
    for r in results:
        print(
            f"{r['workers']:>7}  {r['pages']:>5}  {r['pages_per_s']:>7.1f}  "
            f"{r['pages_per_s'] / base:>7.2f}x  {r['pages_per_s_wall']:>13.1f}  "
            f"{r['ready_s']:>7.1f}  {r['redis_commands_per_page']:>14.1f}  "
            f"{r['redis_round_trips_per_page']:>16.1f}  "
            f"{' '.join(str(m) for m in r['peak_rss_mib']):>19}  {r['cpu_share']:>8.0%}  "
            f"{r['others_cpu_share']:>11.0%}  "
            f"{r['peak_inflight_per_host']:>9}  {r['exit_codes']}"
        )
    for r in results:
        shown = ", ".join(f"{k.split('/')[-1]} {v:g}" for k, v in sorted(r["counters"].items()))
        print(f"{r['workers']} workers: robots.txt fetched {r['robots']}; {shown}")
        print(f"  in flight, mean of each second: {' '.join(map(str, r['in_flight']))}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
