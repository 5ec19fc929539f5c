"""Work fed through Redis: enqueued site runs, idle workers, one run per site, second runs."""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pipelines.reader import ArchiveReader, warc_key
from tests.crawlrun import crawl_env, read_jsonl_gz
from tests.site import NewsSite, load_expected

NEWSWARC = str(Path(sys.executable).parent / "newswarc")
EXPECTED = load_expected()
ARTICLES = sorted(
    p for p, e in EXPECTED.items() if not p.startswith("_") and e["kind"] == "article"
)
NEW = "/news/2026/11/29/harbour-tunnel-opens.html"


def _config(folder: Path, site: NewsSite, archive: Path, recrawl_hours: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "meridian.toml"
    path.write_text(
        f"""name = "meridian"
allowed_domains = ["127.0.0.1"]
feeds = ["{site.base_url}/feed.xml"]
sitemaps = ["{site.base_url}/news-sitemap.xml"]
archive_uri = "{archive}"
[articles]
allow = ['/20\\d\\d/\\d\\d/\\d\\d/']
[schedule]
cron = "* * * * *"
window_hours = {24 * 60}
recrawl_hours = {recrawl_hours}
"""
    )
    return path


def _records(archive: Path) -> list[dict[str, Any]]:
    return [r for p in archive.glob("articles/*/*/*/*.jsonl.gz") for r in read_jsonl_gz(p)]


def _wait_idle(client: Any, archive: Path, manifests: int, timeout: float = 90) -> None:
    """Wait until no run is active and the crawls wrote their manifests."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not client.hlen("newswarc:active") and (
            len(list(archive.glob("crawls/*.json"))) >= manifests
        ):
            return
        time.sleep(0.2)
    raise AssertionError("the run did not finish")


@pytest.mark.e2e
def test_enqueued_site_runs_are_crawled_by_idle_workers_once_per_site(
    redis_db: Any, tmp_path: Path
) -> None:
    site = NewsSite().start()
    archive = tmp_path / "archive"
    config = _config(tmp_path / "sites", site, archive)
    env = crawl_env(tmp_path, {"NEWSWARC_REDIS_URL": redis_db.url})
    client = redis_db.client()

    def enqueue(*args: str) -> str:
        done = subprocess.run(
            [NEWSWARC, "enqueue", *args, "--sites", str(config.parent)],
            check=False,
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    workers = []
    try:
        for name in ("a", "b"):
            spool = tmp_path / f"spool-{name}"
            workers.append(
                subprocess.Popen(
                    [
                        NEWSWARC,
                        "worker",
                        "--poll",
                        "0.2",
                        *("-s", f"NEWSWARC_SPOOL_DIR={spool}"),
                        *("-s", "NEWSWARC_REDIS_POLL_INTERVAL=0.1"),
                        *("-s", "NEWSWARC_REDIS_LEASE_TIMEOUT=3"),
                    ],
                    cwd=tmp_path,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
        time.sleep(1.0)
        # Idle workers wait without busy-looping: a look every 0.2 s each, no more.
        before = int(client.info("stats")["total_commands_processed"])
        time.sleep(2.0)
        idle_commands = int(client.info("stats")["total_commands_processed"]) - before
        assert idle_commands < 40, idle_commands

        assert "enqueued site-meridian" in enqueue("--site", str(config))
        # Never two runs of one site at once.
        assert "already queued or running" in enqueue("--site", str(config))
        _wait_idle(client, archive, 2)
        first = _records(archive)
        assert sorted(urlsplit(r["url"]).path for r in first) == ARTICLES
        manifests = [json.loads(p.read_text()) for p in archive.glob("crawls/*.json")]
        assert len(manifests) == 2  # both workers took part, each with its own crawl
        assert {m["distributed"]["run"] for m in manifests} == {"site-meridian"}
        assert len({m["distributed"]["worker"] for m in manifests}) == 2
        # `newswarc crawls`: the run as one crawl (summed), then a row per worker.
        listed = subprocess.run(
            [NEWSWARC, "crawls", str(archive)], check=True, capture_output=True, text=True
        ).stdout.splitlines()
        assert len(listed) == 4, listed
        assert listed[0].startswith("run site-meridian ") and listed[1] == "  2 workers"
        written = sum(m["counts"]["articles_new"] for m in manifests)
        assert written == len(ARTICLES) and f"new {written:>4}" in listed[0]
        assert {ln.split()[0] for ln in listed[2:]} == {m["crawl_id"] for m in manifests}

        # A second run (the cron fired again): only what is new is fetched and written.
        body = site.body(ARTICLES[0]).replace(b"<title>", b"<title>Tunnel: ", 1)
        site.publish(NEW, body, "2026-11-29T09:00:00+00:00")
        requested = len(site.requests)
        # Enqueued this minute: not due again yet. The first run may have crossed a minute
        # boundary (the cron is every minute), so the enqueue time is set to now, away from
        # the minute's end, rather than left to the wall clock.
        if datetime.now(UTC).second >= 50:
            time.sleep(61 - datetime.now(UTC).second)
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        client.hset("newswarc:enqueued", "meridian", now)
        assert enqueue("--all-due") == ""
        # As if the last run had been enqueued an hour ago: the every-minute cron has fired.
        client.hset("newswarc:enqueued", "meridian", "2026-01-01T00:00:00+00:00")
        assert "enqueued site-meridian" in enqueue("--all-due")
        _wait_idle(client, archive, 3)
        time.sleep(1.0)  # the other worker's manifest, if it took part
        second = [r for r in _records(archive) if r not in first]
        assert [urlsplit(r["url"]).path for r in second] == [NEW]
        paths = [r["path"] for r in site.requests[requested:]]
        assert not set(paths) & set(ARTICLES)  # no known article fetched again
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        outputs = [proc.communicate(timeout=60)[0] for proc in workers]
        site.stop()
    for proc, out in zip(workers, outputs, strict=True):
        assert proc.returncode == 0, out[-3000:]
        assert "Traceback" not in out, out[-3000:]


@pytest.mark.e2e
def test_schedule_in_distributed_mode_enqueues_due_sites_instead_of_crawling(
    redis_db: Any, tmp_path: Path
) -> None:
    site = NewsSite().start()
    try:
        archive = tmp_path / "archive"
        config = _config(tmp_path / "sites", site, archive)
        env = crawl_env(tmp_path, {"NEWSWARC_REDIS_URL": redis_db.url})
        for _ in range(2):
            done = subprocess.run(
                [
                    *(NEWSWARC, "schedule", "--once"),
                    *("--sites", str(config.parent), "--state", str(tmp_path / "state")),
                ],
                check=False,
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr[-2000:]
        job = json.loads(redis_db.client().hget("newswarc:active", "site-meridian"))
        assert job["arguments"] == {"site": str(config)}
        assert site.requests == []  # handed to the workers, not crawled here
        assert not archive.exists()
    finally:
        site.stop()


EDITED = "/news/2026/11/26/city-council-approves-flood-barrier.html"


def _start_workers(tmp_path: Path, env: dict[str, str], names: Sequence[str]) -> list[Any]:
    """Start ``newswarc worker`` processes, each on its own spool folder, one request at a time.

    One request at a time per worker on a slow site spreads a run's pages over the workers.
    """
    return [
        subprocess.Popen(
            [
                *(NEWSWARC, "worker", "--poll", "0.2"),
                *("-s", f"NEWSWARC_SPOOL_DIR={tmp_path / f'spool-{name}'}"),
                *("-s", "NEWSWARC_REDIS_POLL_INTERVAL=0.1"),
                *("-s", "NEWSWARC_REDIS_LEASE_TIMEOUT=10"),
                *("-s", "CONCURRENT_REQUESTS=1"),
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in names
    ]


def _stop_workers(workers: list[Any]) -> list[str]:
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
    return [proc.communicate(timeout=60)[0] for proc in workers]


def _wait_run_over(client: Any, reader: ArchiveReader, crawls: int, timeout: float = 120) -> None:
    """Wait until no run is active, no worker is in one, and ``crawls`` manifests are written."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        idle = not client.hlen("newswarc:active") and not client.keys("newswarc:run:*:workers")
        if idle and len(list(reader.crawls())) >= crawls:
            return
        time.sleep(0.2)
    raise AssertionError("the run did not finish")


def _warc_record(reader: ArchiveReader, line: Any) -> Any:
    """Return the WARC headers of the record an index line points at (one ranged read)."""
    from warcio.archiveiterator import ArchiveIterator

    data = line.data
    raw = reader.storage.read_range(
        warc_key(data["filename"]), int(data["offset"]), int(data["length"])
    )
    return next(iter(ArchiveIterator(io.BytesIO(raw)))).rec_headers


@pytest.mark.e2e
def test_a_scheduled_second_run_across_three_workers_writes_revisits_and_version_2(
    redis_db: Any, tmp_path: Path
) -> None:
    # Slow answers and one request at a time per worker: every worker takes part in each run.
    site = NewsSite(delay=0.8).start()
    archive = tmp_path / "archive"
    # A recrawl window: run 2 fetches every known article again, to catch edits.
    config = _config(tmp_path / "sites", site, archive, recrawl_hours=24 * 365)
    env = crawl_env(tmp_path, {"NEWSWARC_REDIS_URL": redis_db.url})
    client = redis_db.client()
    reader = ArchiveReader.open(str(archive))

    def enqueue(*args: str) -> str:
        done = subprocess.run(
            [NEWSWARC, "enqueue", *args, "--sites", str(config.parent)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
        return done.stdout

    workers = _start_workers(tmp_path, env, ("a", "b", "c"))
    try:
        assert "enqueued site-meridian" in enqueue("--site", str(config))
        _wait_run_over(client, reader, 3)
        run1 = {m["crawl_id"] for m in reader.crawls()}
        first = {urlsplit(r["url"]).path: r for r in reader.articles()}
        assert sorted(first) == ARTICLES and {r["version"] for r in first.values()} == {1}

        # The site changes: one article edited (its sitemap lastmod moves), one published.
        edited = site.body(EDITED).replace(
            b"</article>", b"<p>Update: the full council confirmed the vote.</p></article>", 1
        )
        site.edit(EDITED, edited, modified=datetime.now(UTC).isoformat())
        site.publish(
            NEW,
            site.body(ARTICLES[0]).replace(b"<title>", b"<title>Harbour tunnel opens: ", 1),
            "2026-11-29T09:00:00+00:00",
        )
        start = len(site.requests)
        # The cron fires again (as if the last run had been enqueued long ago).
        client.hset("newswarc:enqueued", "meridian", "2026-01-01T00:00:00+00:00")
        assert "enqueued site-meridian" in enqueue("--all-due")
        _wait_run_over(client, reader, 6)
    finally:
        outputs = _stop_workers(workers)
        site.stop()
    for proc, out in zip(workers, outputs, strict=True):
        assert proc.returncode == 0, out[-3000:]
        assert "Traceback" not in out, out[-3000:]

    manifests = list(reader.crawls())
    run2 = {m["crawl_id"] for m in manifests} - run1
    assert len(run2) == 3 and all(m["finish_reason"] == "finished" for m in manifests)
    fetched2 = [r["path"] for r in site.requests[start:]]
    unchanged = sorted(set(ARTICLES) - {EDITED})
    assert set(unchanged) | {EDITED, NEW} <= set(fetched2)  # every article was asked again

    # Article records of run 2: version 2 of the edited one, linked to version 1, and the new
    # one; none for the unchanged ones, whichever worker fetched them.
    second = [r for r in reader.articles() if r["crawl_id"] in run2]
    by_path = {urlsplit(r["url"]).path: r for r in second}
    assert len(second) == 2 and sorted(by_path) == sorted([EDITED, NEW])
    assert by_path[NEW]["version"] == 1 and by_path[NEW]["previous"] is None
    v1, v2 = first[EDITED], by_path[EDITED]
    assert v2["version"] == 2 and v2["text_sha1"] != v1["text_sha1"]
    assert v2["previous"]["version"] == 1
    assert v2["previous"]["text_sha1"] == v1["text_sha1"]
    assert v2["previous"]["record_id"] == v1["warc"]["record_id"]
    assert v2["previous"]["crawl_id"] == v1["crawl_id"]
    assert reader.read_pointer(v2["warc"]).body == edited
    assert reader.read_pointer(v1["warc"]).body == site.body(EDITED)

    # The unchanged articles: run 2 wrote each as a revisit of run 1's response (from the
    # shared state: the worker that refetched it is not the process that first fetched it),
    # never as a second response.
    writers = set()
    for path in unchanged:
        lines = reader.captures(site.url(path))
        original = [ln for ln in lines if ln.data["mime"] != "warc/revisit"]
        revisits = [ln for ln in lines if ln.data["mime"] == "warc/revisit"]
        assert len(original) == 1 and revisits, (path, [ln.data for ln in lines])
        first_id = _warc_record(reader, original[0]).get_header("WARC-Record-ID")
        assert first_id == first[path]["warc"]["record_id"]
        for line in revisits:
            headers = _warc_record(reader, line)
            assert headers.get_header("WARC-Refers-To") == first_id
            assert headers.get_header("WARC-Profile").endswith("/revisit/identical-payload-digest")
            assert line.data["digest"] == original[0].data["digest"]
            assert line.data["filename"] != original[0].data["filename"]
            writers.add(line.data["filename"].rsplit("-", 1)[-1])  # HOST.PID.warc.gz
    assert len(writers) >= 2, writers  # the revisits came from more than one worker
    counts = [m["counts"] for m in manifests if m["crawl_id"] in run2]
    assert sum(c["articles_updated"] for c in counts) == 1
    assert sum(c["articles_new"] for c in counts) == 1
    assert sum(c["articles_unchanged"] for c in counts) >= len(unchanged)

    verify = subprocess.run(
        [NEWSWARC, "verify", str(archive)], check=False, capture_output=True, text=True, timeout=120
    )
    assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-2000:]


def _status(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [NEWSWARC, "status", *args], check=True, capture_output=True, text=True, env=env, timeout=30
    )
    return done.stdout


def test_status_shows_queue_leases_expired_leases_and_worker_rates(
    redis_db: Any, tmp_path: Path
) -> None:
    from scrapy import Request, Spider

    from crawler.enqueue import enqueue_run, run_keys
    from crawler.redisqueue import LeasedQueue

    client = redis_db.client()
    env = crawl_env(tmp_path, {"NEWSWARC_REDIS_URL": redis_db.url})
    assert _status(env).strip() == "no active runs"
    assert enqueue_run(client, "newswarc", "site-meridian", {"site": "meridian.toml"})
    keys = run_keys("newswarc", "site-meridian")
    spider = Spider("news")

    def queue(worker: str, lease_timeout: float) -> LeasedQueue:
        return LeasedQueue(
            server=client,
            spider=spider,
            key=keys["requests"],
            lease_timeout=lease_timeout,
            worker=worker,
        )

    live = queue("host-a.1", 60)
    for i in range(6):
        live.push(Request(f"https://news.test/2026/12/0{i + 1}/story.html"))
    assert live.pop() is not None and live.pop() is not None  # two leases held
    # A worker that died holding a lease: its time runs out, nobody has put it back yet.
    dead = queue("host-b.2", 0.001)
    assert dead.pop() is not None
    time.sleep(0.05)
    # Heartbeat rows as crawler.distributed.RedisWorker writes them.
    now = time.time()
    crawl_a = datetime.fromtimestamp(now - 100, UTC).strftime("%Y%m%dT%H%M%SZ-aaaaaa")
    rows = {
        "host-a.1": {"crawl_id": crawl_a, "seen": now - 1, "pages": 297, "leases": 2},
        "host-b.2": {"crawl_id": "custom-id", "seen": now - 400, "pages": 40, "leases": 1},
    }
    client.hset(keys["workers"], mapping={k: json.dumps(v) for k, v in rows.items()})

    found = json.loads(_status(env, "--json"))
    (run,) = found["runs"]
    assert run["run"] == "site-meridian" and run["arguments"] == {"site": "meridian.toml"}
    assert (run["queued"], run["leased"], run["expired"], run["workers"]) == (3, 3, 1, 2)
    a, b = run["worker_rows"]
    assert (a["worker"], a["pages"], a["leases"]) == ("host-a.1", 297, 2)
    # 297 pages from the crawl's start (its id, to the second) to its last heartbeat.
    started = datetime.strptime(crawl_a[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    assert a["pages_per_second"] == pytest.approx(297 / (now - 1 - started), abs=0.01)
    assert 2.9 < a["pages_per_second"] < 3.1
    assert 0.5 <= a["seen_ago"] < 10
    assert b["pages_per_second"] is None and b["seen_ago"] >= 399  # start unknown; dead
    assert run["pages_per_second"] == a["pages_per_second"]

    text = _status(env).splitlines()
    assert text[0].startswith("site-meridian  queued 3  leased 3 (1 expired)  workers 2  ")
    assert f"{a['pages_per_second']:.2f} pages/s" in text[0]
    assert text[1].startswith(f"  host-a.1  crawl {crawl_a}  pages 297  ")
    assert "leases 2" in text[1] and "- pages/s" in text[2]
    seen = re.search(r"seen (\d+) s ago$", text[2])
    assert seen and 400 <= int(seen.group(1)) < 460

    # The live worker puts the run-out lease back: queued again, no lease expired.
    assert live.expire() == 1
    run = json.loads(_status(env, "--json"))["runs"][0]
    assert (run["queued"], run["leased"], run["expired"]) == (4, 2, 0)


@pytest.mark.e2e
def test_status_during_a_crawl_of_two_workers(redis_db: Any, tmp_path: Path) -> None:
    from tests.crawlrun import start_crawl

    # One request at a time, each answered after 0.8 s: at most 1.25 pages/s a worker.
    site = NewsSite(delay=0.8).start()
    env = crawl_env(tmp_path, {"NEWSWARC_REDIS_URL": redis_db.url})
    client = redis_db.client()
    from crawler.enqueue import enqueue_run

    assert enqueue_run(client, "newswarc", "run-s", {"start_urls": site.base_url})
    procs = []
    snapshots: list[dict[str, Any]] = []
    try:
        for name in ("w1", "w2"):
            folder = tmp_path / name
            folder.mkdir()
            settings = {
                "NEWSWARC_ARCHIVE_URI": tmp_path / "archive",
                "NEWSWARC_SPOOL_DIR": tmp_path / f"spool-{name}",
                "NEWSWARC_REDIS_RUN": "run-s",
                "NEWSWARC_REDIS_LEASE_TIMEOUT": 6,  # a heartbeat every 2 s
                "NEWSWARC_REDIS_POLL_INTERVAL": 0.1,
                "CONCURRENT_REQUESTS": 1,
            }
            args = ["-a", f"start_urls={site.base_url}/"]
            procs.append(start_crawl(folder, args, settings, {"NEWSWARC_REDIS_URL": redis_db.url}))
        while any(p.poll() is None for p in procs):
            snapshots += json.loads(_status(env, "--json"))["runs"]
            time.sleep(0.3)
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, (err + out)[-3000:]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        site.stop()
    assert snapshots and all(s["run"] == "run-s" for s in snapshots)
    assert any(s["queued"] > 0 and s["leased"] > 0 for s in snapshots), snapshots[-3:]
    # Live workers renew their leases: none runs out.
    assert all(s["expired"] == 0 for s in snapshots), snapshots
    both = [s for s in snapshots if len(s["worker_rows"]) == 2]
    assert both, "status never showed both workers"
    rows = [w for s in both for w in s["worker_rows"]]
    assert any(w["pages_per_second"] for w in rows), rows
    # N pages took at least (N - 1) x 0.8 s (robots.txt may come from Redis, at once): over
    # 4 pages, under 1.25 + 1 / 2.4 pages/s.
    assert any(w["pages"] >= 4 for w in rows), rows
    assert all(w["pages_per_second"] < 1.7 for w in rows if w["pages"] >= 4), rows
    last = both[-1]
    crawls = {w["crawl_id"] for w in last["worker_rows"]}
    manifests = {p.stem for p in (tmp_path / "archive").glob("crawls/*.json")}
    assert crawls <= manifests  # the rows name the workers' crawls
