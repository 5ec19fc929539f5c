"""The scheduler: cron due times, run records, per-site locks, real crawls as subprocesses."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crawler import schedule
from crawler.schedule import due, last_start, lock_path, read_state, run_due, state_path
from crawler.sites import load_site
from tests.crawlrun import ROOT, crawl_env

NOW = datetime(2026, 11, 28, 12, 14, tzinfo=UTC)


def site_config(
    folder: Path,
    name: str,
    base: str,
    archive: Path,
    cron: str | None,
    *,
    delay: float = 0.05,
    concurrency: int = 3,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    schedule_line = f'cron = "{cron}"\n' if cron else ""
    path.write_text(
        f"""name = "{name}"
allowed_domains = ["127.0.0.1"]
feeds = ["{base}/feed.xml"]
archive_uri = "{archive}"
[politeness]
download_delay = {delay}
concurrency = {concurrency}
[schedule]
{schedule_line}window_hours = {24 * 30}
"""
    )
    return path


def record_run(state: Path, name: str, start: datetime, outcome: str = "ok") -> None:
    state.mkdir(parents=True, exist_ok=True)
    data = read_state(state, name)
    data["runs"].append({"start": start.isoformat(), "outcome": outcome})
    state_path(state, name).write_text(json.dumps(data))


def marker_cmd(folder: Path) -> list[str]:
    """A fast stand-in for the crawl: writes ``ran-NAME`` holding the config path."""
    code = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text(sys.argv[2])"
    return [sys.executable, "-c", code, str(folder / "ran-{name}"), "{path}"]


def articles(archive: Path) -> list[Path]:
    return sorted(archive.glob("articles/*/*/*/*.jsonl.gz"))


def test_due_follows_the_cron_and_the_last_run_start(tmp_path: Path) -> None:
    state = tmp_path / "state"
    path = site_config(
        tmp_path / "sites", "quarter", "http://a.test", tmp_path / "a", "*/15 * * * *"
    )
    site = load_site(str(path))
    assert due(site, NOW, state)  # never run
    record_run(state, "quarter", NOW - timedelta(minutes=20))  # 11:54: 12:00 has fired since
    assert due(site, NOW, state)
    record_run(state, "quarter", NOW - timedelta(minutes=10))  # 12:04: next is 12:15
    assert not due(site, NOW, state)
    assert due(site, NOW + timedelta(minutes=1), state)
    assert not due(site, NOW.replace(tzinfo=None), state)  # a naive time is UTC
    # A skipped run is no run: the last start stays 12:04.
    record_run(state, "quarter", NOW, outcome="skipped-locked")
    assert last_start(state, "quarter") == NOW - timedelta(minutes=10)
    # Without a cron a site is never due, run or not.
    plain = load_site(str(site_config(tmp_path / "s2", "plain", "http://a.test", tmp_path, None)))
    assert not due(plain, NOW, tmp_path / "empty-state")


def test_a_corrupt_state_file_counts_as_never_run(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state_path(state, "x").write_text("{not json")
    assert last_start(state, "x") is None


def test_only_due_sites_are_crawled(news_site: Any, tmp_path: Path) -> None:
    sites, state = tmp_path / "sites", tmp_path / "state"
    base = news_site.base_url
    site_config(sites, "every-minute", base, tmp_path / "a-every", "* * * * *")
    site_config(sites, "yearly", base, tmp_path / "a-yearly", "0 0 1 1 *")
    now = datetime.now(UTC)
    record_run(state, "yearly", now - timedelta(hours=1))

    outcomes = run_due(sites, state, once=True, env=crawl_env(tmp_path))

    assert [(o.site, o.outcome, o.exit_code) for o in outcomes] == [("every-minute", "ok", 0)]
    assert outcomes[0].log is not None, outcomes
    assert articles(tmp_path / "a-every"), outcomes[0].log.read_text()[-3000:]
    assert not (tmp_path / "a-yearly").exists()
    (run,) = read_state(state, "every-minute")["runs"]
    assert run["outcome"] == "ok" and run["exit_code"] == 0 and run["end"] >= run["start"]
    assert run["config"] == str(sites / "every-minute.toml")
    manifest = json.loads(next((tmp_path / "a-every").glob("crawls/*.json")).read_text())
    assert manifest["arguments"]["site"] == str(sites / "every-minute.toml")
    assert "Spider closed (finished)" in outcomes[0].log.read_text()
    # Judged at the time the run started, nothing is due any more.
    assert run_due(sites, state, once=True, now=outcomes[0].start, env=crawl_env(tmp_path)) == []


def test_a_bad_config_fails_with_file_and_line_and_the_others_run(
    news_site: Any, tmp_path: Path
) -> None:
    sites, state = tmp_path / "sites", tmp_path / "state"
    site_config(sites, "good", news_site.base_url, tmp_path / "a-good", "* * * * *")
    bad = sites / "bad.toml"
    bad.write_text('name = "bad"\nallowed_domains = ["127.0.0.1"]\nfeeds = ["nope"]\n')
    bad_cron = sites / "bad-cron.toml"
    bad_cron.write_text(
        'allowed_domains = ["a.com"]\nfeeds = ["https://a.com/f"]\n'
        '[schedule]\ncron = "61 * * * *"\n'
    )
    twin = sites / "twin.toml"
    twin.write_text('\nname = "good"\nallowed_domains = ["a.com"]\nfeeds = ["https://a.com/f"]\n')

    outcomes = {o.site: o for o in run_due(sites, state, once=True, env=crawl_env(tmp_path))}

    assert outcomes["bad"].outcome == "failed" and outcomes["bad"].exit_code is None
    assert outcomes["bad"].message.startswith(f"{bad}:3: feeds: not an http(s) URL")
    assert outcomes["bad-cron"].outcome == "failed"
    assert outcomes["bad-cron"].message.startswith(f"{bad_cron}:4: cron:")
    assert outcomes["twin"].outcome == "failed"
    assert outcomes["twin"].message.startswith(f"{twin}:2: name: 'good' is already the name")
    assert outcomes["good"].outcome == "ok", outcomes["good"]
    assert articles(tmp_path / "a-good")
    assert sorted(p.name for p in state.glob("*.json")) == ["good.json"]


def test_a_failed_crawl_is_recorded_with_its_exit_code_and_last_line(tmp_path: Path) -> None:
    sites, state = tmp_path / "sites", tmp_path / "state"
    site_config(sites, "broken", "http://a.test", tmp_path / "a", "* * * * *")
    cmd = [sys.executable, "-c", "import sys; print('noise'); print('CRITICAL boom'); sys.exit(3)"]

    (outcome,) = run_due(sites, state, once=True, crawl_cmd=cmd)

    assert (outcome.outcome, outcome.exit_code, outcome.message) == ("failed", 3, "CRITICAL boom")
    assert outcome.log is not None and "noise" in outcome.log.read_text()
    (run,) = read_state(state, "broken")["runs"]
    assert (run["outcome"], run["exit_code"]) == ("failed", 3)
    # A command that cannot start is a failed run too, and never crashes the scheduler.
    missing = [str(tmp_path / "no-such-scrapy")]
    (outcome,) = run_due(
        sites, state, once=True, now=datetime.now(UTC) + timedelta(minutes=2), crawl_cmd=missing
    )
    assert outcome.outcome == "failed" and "cannot start the crawl" in outcome.message


def test_a_held_lock_skips_the_site_until_its_holder_dies(tmp_path: Path) -> None:
    sites, state = tmp_path / "sites", tmp_path / "state"
    site_config(sites, "held", "http://a.test", tmp_path / "a", "* * * * *")
    state.mkdir()
    ran = tmp_path / "ran-held"

    # Held in this process (another open file, so another lock).
    fd = os.open(lock_path(state, "held"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        outcomes = run_due(sites, state, once=True, crawl_cmd=marker_cmd(tmp_path))
    finally:
        os.close(fd)
    assert [(o.site, o.outcome, o.exit_code) for o in outcomes] == [
        ("held", "skipped-locked", None)
    ]
    assert not ran.exists()
    assert [r["outcome"] for r in read_state(state, "held")["runs"]] == ["skipped-locked"]
    assert last_start(state, "held") is None  # still due

    # Held by another process, which is then killed: the OS frees the lock.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDWR)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "time.sleep(600)\n",
            str(lock_path(state, "held")),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        (outcome,) = run_due(sites, state, once=True, crawl_cmd=marker_cmd(tmp_path))
        assert outcome.outcome == "skipped-locked" and not ran.exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    (outcome,) = run_due(sites, state, once=True, crawl_cmd=marker_cmd(tmp_path))
    assert (outcome.outcome, outcome.exit_code) == ("ok", 0)
    assert ran.read_text() == str(sites / "held.toml")


def test_a_running_scheduler_locks_its_site_and_a_killed_one_frees_it(tmp_path: Path) -> None:
    from tests.site import NewsSite

    sites, state = tmp_path / "sites", tmp_path / "state"
    slow = NewsSite(delay=0.5).start()
    scheduler = None
    try:
        site_config(
            sites, "slow", slow.base_url, tmp_path / "a", "* * * * *", delay=2, concurrency=1
        )
        command = ["-m", "crawler.schedule", "--once", "--sites", str(sites), "--state", str(state)]
        scheduler = subprocess.Popen(
            [sys.executable, *command],
            cwd=ROOT,
            env=crawl_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: the crawl is killed with it
        )
        deadline = time.monotonic() + 60
        while not any("crawl_pid" in r for r in read_state(state, "slow")["runs"]):
            assert scheduler.poll() is None, scheduler.communicate()
            assert time.monotonic() < deadline, "the scheduler never started the crawl"
            time.sleep(0.1)
        (running,) = read_state(state, "slow")["runs"]
        assert running["crawl_pid"] != scheduler.pid
        assert running["outcome"] == "running" and running["pid"] == scheduler.pid

        # Two minutes on, the cron has fired again, but the first crawl still runs.
        later = datetime.now(UTC) + timedelta(minutes=2)
        (outcome,) = run_due(sites, state, once=True, now=later, crawl_cmd=marker_cmd(tmp_path))
        assert outcome.outcome == "skipped-locked"
        assert not (tmp_path / "ran-slow").exists()
        assert scheduler.poll() is None  # the first crawl was left alone

        # The crawl holds the lock too: with its scheduler killed, it still keeps others out.
        os.kill(scheduler.pid, signal.SIGKILL)
        scheduler.communicate(timeout=30)
        os.kill(running["crawl_pid"], 0)  # alive
        (outcome,) = run_due(sites, state, once=True, now=later, crawl_cmd=marker_cmd(tmp_path))
        assert outcome.outcome == "skipped-locked"

        # Killed as well (with its extraction workers): once they are gone the lock is free.
        os.killpg(scheduler.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            (outcome,) = run_due(sites, state, once=True, now=later, crawl_cmd=marker_cmd(tmp_path))
            if outcome.outcome != "skipped-locked" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert (outcome.outcome, outcome.exit_code) == ("ok", 0)
        assert (tmp_path / "ran-slow").exists()
        runs = read_state(state, "slow")["runs"]
        assert runs[0]["outcome"] == "failed" and "interrupted" in runs[0]["message"]
        assert runs[-1]["outcome"] == "ok"
    finally:
        if scheduler is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(scheduler.pid, signal.SIGKILL)
            scheduler.wait()
        slow.stop()


def test_the_command_logs_one_line_a_site_and_fails_on_a_failed_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    sites, state = tmp_path / "sites", tmp_path / "state"
    site_config(sites, "fine", "http://a.test", tmp_path / "a", "* * * * *")
    (sites / "worse.toml").write_text("colour = 1\n")
    monkeypatch.setattr(schedule, "CRAWL_CMD", marker_cmd(tmp_path))
    caplog.set_level(logging.INFO, logger="newswarc.schedule")
    handler = signal.getsignal(signal.SIGTERM)

    argv = ["--once", "--sites", str(sites), "--state", str(state)]
    assert schedule.main(argv) == 1

    lines = [r.getMessage() for r in caplog.records if "exit=" in r.getMessage()]
    assert len(lines) == 2
    assert lines[0].startswith("fine ok exit=0 ") and lines[0].endswith("s")
    assert lines[1].startswith(f"worse failed exit=- 0.0s: {sites / 'worse.toml'}:1: colour:")
    assert (tmp_path / "ran-fine").exists()
    assert signal.getsignal(signal.SIGTERM) == handler  # restored

    (sites / "worse.toml").unlink()
    assert schedule.main(argv) == 0  # nothing due, nothing failed
    monkeypatch.setenv("NEWSWARC_STATE_DIR", str(tmp_path / "env-state"))
    assert schedule.main(["--once", "--sites", str(sites)]) == 0
    assert (tmp_path / "env-state" / "fine.json").exists()


def test_the_state_folder_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NEWSWARC_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert schedule.default_state_dir() == tmp_path / "xdg" / "newswarc" / "schedule"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert schedule.default_state_dir() == tmp_path / "home/.local/state/newswarc/schedule"


def test_without_once_a_pass_runs_then_it_sleeps_to_the_next_minute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sites, state = tmp_path / "sites", tmp_path / "state"
    site_config(sites, "loop", "http://a.test", tmp_path / "a", "* * * * *")
    slept: list[float] = []

    class Stop(Exception):
        pass

    def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        raise Stop

    monkeypatch.setattr(schedule.time, "sleep", fake_sleep)
    with pytest.raises(Stop):
        run_due(sites, state, once=False, crawl_cmd=marker_cmd(tmp_path))
    assert (tmp_path / "ran-loop").exists()
    assert len(slept) == 1 and 0 < slept[0] <= 60.01
