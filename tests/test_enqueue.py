"""Work fed through Redis: enqueued site runs, idle workers, one run per site, second runs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.crawlrun import crawl_env, read_jsonl_gz
from tests.site import NewsSite, load_expected

NEWSWARC = str(Path(sys.executable).parent / "newswarc")
EXPECTED = load_expected()
ARTICLES = sorted(
    p for p, e in EXPECTED.items() if not p.startswith("_") and e["kind"] == "article"
)
NEW = "/news/2026/11/29/harbour-tunnel-opens.html"


def _config(folder: Path, site: NewsSite, archive: Path) -> Path:
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
recrawl_hours = 0
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
        assert enqueue("--all-due") == ""  # enqueued this minute: not due again yet
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
