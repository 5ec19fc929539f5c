"""Run each site's crawl when its cron expression says so: ``newswarc schedule``."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from croniter import croniter

from crawler.sites import SITES_DIR, SiteConfig, SiteConfigError, _line_of, load_site

log = logging.getLogger("newswarc.schedule")

Outcome = Literal["ok", "failed", "skipped-locked"]

#: The crawl run for a due site; ``{path}`` becomes its config file, ``{name}`` its name.
CRAWL_CMD: list[str] = [
    str(Path(sys.executable).parent / "scrapy"),
    "crawl",
    "news",
    "-a",
    "site={path}",
]
#: Runs kept in a site's state file, and crawl logs kept in its log folder.
KEEP_RUNS = 200
KEEP_LOGS = 50


def default_state_dir() -> Path:
    """Return ``$NEWSWARC_STATE_DIR``, else ``$XDG_STATE_HOME/newswarc/schedule``.

    ``XDG_STATE_HOME`` defaults to ``~/.local/state``.
    """
    if os.environ.get("NEWSWARC_STATE_DIR"):
        return Path(os.environ["NEWSWARC_STATE_DIR"]).expanduser()
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path("~/.local/state").expanduser())
    return Path(xdg) / "newswarc" / "schedule"


def state_path(state_dir: Path, name: str) -> Path:
    """Return the JSON file recording the runs of site ``name``."""
    return state_dir / f"{name}.json"


def lock_path(state_dir: Path, name: str) -> Path:
    """Return the file a scheduler holds an exclusive ``flock`` on while ``name`` is crawled."""
    return state_dir / f"{name}.lock"


@dataclass(frozen=True)
class RunOutcome:
    """What became of one due site in one scheduler pass."""

    site: str
    config: Path
    outcome: Outcome
    exit_code: int | None
    start: datetime
    end: datetime
    message: str = ""
    log: Path | None = None
    #: Quality alerts the crawl raised ("CRITICAL words_drop: ..."), from its alerts file.
    alerts: tuple[str, ...] = ()

    @property
    def duration(self) -> float:
        """Seconds from start to end."""
        return (self.end - self.start).total_seconds()

    def line(self) -> str:
        """Describe the run in one log line: site, outcome, exit code, duration."""
        code = "-" if self.exit_code is None else str(self.exit_code)
        text = f"{self.site} {self.outcome} exit={code} {self.duration:.1f}s"
        return text + (f": {self.message}" if self.message else "")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC; a naive datetime is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def cron_due(cron: str, last_start: datetime | None, now: datetime) -> bool:
    """Tell whether ``cron`` (five fields, UTC) has fired after ``last_start`` and by ``now``.

    A site never run is due at once.
    """
    if last_start is None:
        return True
    fire: datetime = croniter(cron, _utc(last_start)).get_next(datetime)
    return fire <= _utc(now)


def read_state(state_dir: Path, name: str) -> dict[str, Any]:
    """Return the recorded runs of site ``name`` (``{"runs": [...]}``, oldest first)."""
    path = state_path(state_dir, name)
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {"site": name, "runs": []}
    except (OSError, ValueError) as exc:
        log.warning("%s: unreadable state, taken as never run: %s", path, exc)
        return {"site": name, "runs": []}
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        log.warning("%s: unexpected state, taken as never run", path)
        return {"site": name, "runs": []}
    return data


def last_start(state_dir: Path, name: str) -> datetime | None:
    """Return when the last run of site ``name`` started (a skipped run does not count)."""
    starts = []
    for run in read_state(state_dir, name)["runs"]:
        if not isinstance(run, dict) or run.get("outcome") == "skipped-locked":
            continue
        with contextlib.suppress(TypeError, ValueError):
            starts.append(_utc(datetime.fromisoformat(run["start"])))
    return max(starts, default=None)


def due(site: SiteConfig, now: datetime, state_dir: Path | None = None) -> bool:
    """Tell whether ``site``'s cron has fired since its last run started.

    Args:
        site: The site config; a site without ``cron`` is never due.
        now: The time to judge at (a naive datetime is UTC).
        state_dir: Where run records are kept (default: :func:`default_state_dir`).

    """
    if not site.cron:
        return False
    folder = state_dir if state_dir is not None else default_state_dir()
    return cron_due(site.cron, last_start(folder, site.name), now)


@contextlib.contextmanager
def _edit_state(state_dir: Path, name: str) -> Iterator[dict[str, Any]]:
    """Read, let the caller change, and atomically rewrite the state of ``name``."""
    guard = os.open(state_dir / f"{name}.state-lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(guard, fcntl.LOCK_EX)  # held for a moment only: a read and a rename
        data = read_state(state_dir, name)
        yield data
        data["site"] = name
        data["runs"] = data["runs"][-KEEP_RUNS:]
        path = state_path(state_dir, name)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n", "utf-8")
        tmp.replace(path)
    finally:
        os.close(guard)


def _try_lock(path: Path) -> int | None:
    """Take an exclusive ``flock`` on ``path`` without waiting; None if someone holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_cron(site: SiteConfig) -> None:
    """Raise SiteConfigError, with file and line, when croniter refuses the site's cron."""
    if site.cron and not croniter.is_valid(site.cron):
        line = _line_of(site.path.read_text("utf-8"), "cron", "schedule")
        raise SiteConfigError(f"{site.path}:{line}: cron: not a valid cron expression")


def _last_line(path: Path) -> str:
    """Return the last non-empty line of a crawl log (its reason, when it failed)."""
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 4096))
            lines = [ln for ln in fh.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1].strip()[:300] if lines else ""


def _prune_logs(folder: Path) -> None:
    for old in sorted(folder.glob("*.log"))[:-KEEP_LOGS]:
        old.unlink(missing_ok=True)
        old.with_suffix(".alerts.json").unlink(missing_ok=True)


def _read_alerts(path: Path) -> tuple[str, ...]:
    """Return the quality alerts a crawl wrote (``LEVEL check: message``), none if no file."""
    try:
        data = json.loads(path.read_text("utf-8"))
        return tuple(f"{a['level']} {a['check']}: {a['message']}" for a in data["alerts"])
    except (OSError, ValueError, KeyError, TypeError):
        return ()


def _run_site(
    site: SiteConfig,
    state_dir: Path,
    at: datetime,
    crawl_cmd: Sequence[str],
    env: Mapping[str, str] | None,
) -> RunOutcome | None:
    """Crawl one due site under its lock; None if another scheduler has just run it."""
    fd = _try_lock(lock_path(state_dir, site.name))
    if fd is None:
        moment = _utcnow()
        with _edit_state(state_dir, site.name) as state:
            state["runs"].append(
                {"start": moment.isoformat(), "outcome": "skipped-locked", "pid": os.getpid()}
            )
        return RunOutcome(
            site.name,
            site.path,
            "skipped-locked",
            None,
            moment,
            moment,
            "another scheduler is running this site",
        )
    try:
        # Judged again under the lock: a scheduler may have run it since the first look.
        if not due(site, at, state_dir):
            return None
        start = _utcnow()
        log_dir = state_dir / "logs" / site.name
        log_dir.mkdir(parents=True, exist_ok=True)
        log_file = log_dir / f"{start:%Y%m%dT%H%M%S.%fZ}.log"
        record: dict[str, Any] = {
            "start": start.isoformat(),
            "end": None,
            "exit_code": None,
            "outcome": "running",
            "pid": os.getpid(),
            "config": str(site.path),
            "log": str(log_file),
        }
        with _edit_state(state_dir, site.name) as state:
            for run in state["runs"]:
                if run.get("outcome") == "running":  # its holder died: the lock was free
                    run.update(
                        outcome="failed",
                        message="interrupted: its scheduler died (see the crawl log)",
                    )
            state["runs"].append(record)

        alerts_file = log_file.with_suffix(".alerts.json")

        def finish(code: int | None, outcome: Outcome, message: str) -> RunOutcome:
            end = _utcnow()
            alerts = _read_alerts(alerts_file)
            if alerts:
                record["alerts"] = list(alerts)
                message = "; ".join(filter(None, [message, "quality alerts: " + "; ".join(alerts)]))
            record.update(end=end.isoformat(), exit_code=code, outcome=outcome, message=message)
            with _edit_state(state_dir, site.name) as state:
                for run in state["runs"]:
                    if run.get("start") == record["start"] and run.get("pid") == record["pid"]:
                        run.update(record)
            return RunOutcome(
                site.name, site.path, outcome, code, start, end, message, log_file, alerts
            )

        cmd = [
            part.replace("{path}", str(site.path)).replace("{name}", site.name)
            for part in crawl_cmd
        ]
        log.info("%s: starting %s", site.name, " ".join(cmd))
        try:
            with log_file.open("ab") as out:
                # The crawl inherits the lock: it stays held as long as the crawl runs, even if
                # this scheduler is killed, and is released by the OS once both are gone.
                proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    # The crawl's quality monitors write their alerts there (crawler/monitors.py).
                    env={
                        **(os.environ if env is None else env),
                        "NEWSWARC_ALERTS_FILE": str(alerts_file),
                    },
                    pass_fds=(fd,),
                )
        except OSError as exc:
            return finish(None, "failed", f"cannot start the crawl: {exc}")
        record["crawl_pid"] = proc.pid
        with _edit_state(state_dir, site.name) as state:
            for run in state["runs"]:
                if run.get("start") == record["start"] and run.get("pid") == record["pid"]:
                    run["crawl_pid"] = proc.pid
        try:
            code = proc.wait()
        except BaseException as exc:
            finish(
                proc.poll(),
                "failed",
                f"scheduler stopped ({type(exc).__name__}) while crawl pid {proc.pid} ran",
            )
            raise
        _prune_logs(log_dir)
        if code == 0:
            return finish(code, "ok", "")
        return finish(code, "failed", _last_line(log_file))
    finally:
        os.close(fd)


def _run_pass(
    sites_dir: Path,
    state_dir: Path,
    now: datetime | None,
    crawl_cmd: Sequence[str],
    env: Mapping[str, str] | None,
    *,
    quiet_errors: dict[Path, str] | None = None,
) -> list[RunOutcome]:
    """Load every config once and run the due sites one after another."""
    state_dir.mkdir(parents=True, exist_ok=True)
    outcomes: list[RunOutcome] = []
    names: dict[str, Path] = {}
    for path in sorted(sites_dir.glob("*.toml")):
        try:
            site = load_site(str(path), sites_dir)
            _check_cron(site)
            if site.name in names:
                line = _line_of(path.read_text("utf-8"), "name", "")
                raise SiteConfigError(
                    f"{path}:{line}: name: {site.name!r} is already the name of {names[site.name]}"
                )
        except (SiteConfigError, OSError, UnicodeDecodeError) as exc:
            moment = _utcnow()
            outcome = RunOutcome(path.stem, path, "failed", None, moment, moment, str(exc))
            if quiet_errors is None or quiet_errors.get(path) != str(exc):
                log.error("%s", outcome.line())
            if quiet_errors is not None:
                quiet_errors[path] = str(exc)
            outcomes.append(outcome)
            continue
        names[site.name] = path
        if quiet_errors is not None:
            quiet_errors.pop(path, None)
        at = now if now is not None else _utcnow()
        if not due(site, at, state_dir):
            continue
        try:
            result = _run_site(site, state_dir, at, crawl_cmd, env)
        except OSError as exc:  # the state folder is unwritable, full…: this site, this time
            moment = _utcnow()
            result = RunOutcome(site.name, path, "failed", None, moment, moment, str(exc))
        if result is None:
            continue
        level = {"ok": logging.INFO, "skipped-locked": logging.WARNING}.get(result.outcome)
        log.log(level or logging.ERROR, "%s", result.line())
        outcomes.append(result)
    return outcomes


def run_due(
    sites_dir: Path,
    state_dir: Path,
    *,
    once: bool,
    now: datetime | None = None,
    crawl_cmd: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> list[RunOutcome]:
    """Crawl every site of ``sites_dir`` whose cron has fired since its last run.

    Sites run one after another, each as a subprocess (``scrapy crawl news -a site=PATH``) under
    the site's lock; a site another scheduler holds is skipped ("skipped-locked"). A config that
    does not load is a "failed" outcome with its error; the other sites still run.

    Args:
        sites_dir: Folder of ``*.toml`` site configs.
        state_dir: Folder of run records, locks and crawl logs.
        once: Make one pass and return; else run a pass at every minute boundary, forever.
        now: The time to judge due sites at in the (first) pass; default: the clock.
        crawl_cmd: The command to run, ``{path}`` and ``{name}`` replaced (default CRAWL_CMD).
        env: Environment of the crawls (default: this process's).

    Returns:
        The outcome of every site that ran, was skipped or failed to load, in file order.

    """
    cmd = list(crawl_cmd) if crawl_cmd is not None else CRAWL_CMD
    if crawl_cmd is None and (env if env is not None else os.environ).get("NEWSWARC_REDIS_URL"):
        # Distributed: the due site is handed to the workers (one active run per site).
        cmd = [str(Path(sys.executable).parent / "newswarc"), "enqueue", "--site", "{path}"]
    if once:
        return _run_pass(sites_dir, state_dir, now, cmd, env)
    quiet: dict[Path, str] = {}  # a broken config is reported again only when its error changes
    while True:
        _run_pass(sites_dir, state_dir, now, cmd, env, quiet_errors=quiet)
        now = None
        time.sleep(60 - time.time() % 60 + 0.01)


def cmd_schedule(args: argparse.Namespace) -> int:
    """Run the due sites (once, or forever); 1 if a run failed, else 0."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    state_dir = Path(args.state) if args.state else default_state_dir()
    previous = None
    if threading.current_thread() is threading.main_thread():
        # SIGTERM unwinds like Ctrl-C, so the running crawl's record says what happened.
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        outcomes = run_due(Path(args.sites), state_dir, once=args.once)
    except KeyboardInterrupt:
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if any(o.outcome == "failed" for o in outcomes):
        return 1
    return 3 if getattr(args, "fail_on_alert", False) and any(o.alerts for o in outcomes) else 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``schedule [--once] [--sites DIR] [--state DIR]`` to the ``newswarc`` command.

    Args:
        subparsers: What ``ArgumentParser.add_subparsers()`` returned.

    """
    p = subparsers.add_parser(
        "schedule",
        help="crawl each site config when its cron expression (UTC) fires",
        description="Every minute, crawl each site whose [schedule] cron (UTC) has fired since "
        "its last run, one after another, as `scrapy crawl news -a site=PATH`. Exit code 1 "
        "(with --once) if a run or a config failed, 3 with --fail-on-alert if a run raised a "
        "quality alert.",
    )
    p.add_argument("--once", action="store_true", help="one pass over the due sites, then exit")
    p.add_argument(
        "--fail-on-alert",
        action="store_true",
        help="exit 3 (with --once) if a crawl raised a quality alert (WARNING or CRITICAL)",
    )
    p.add_argument(
        "--sites",
        metavar="DIR",
        default=str(SITES_DIR),
        help=f"folder of site configs (default: {SITES_DIR})",
    )
    p.add_argument(
        "--state",
        metavar="DIR",
        help="folder of run records, locks and crawl logs (default: $NEWSWARC_STATE_DIR, else "
        "$XDG_STATE_HOME/newswarc/schedule)",
    )
    p.set_defaults(func=cmd_schedule)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``newswarc schedule ARGV`` on its own (``python -m crawler.schedule``)."""
    parser = argparse.ArgumentParser(prog="newswarc")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["schedule", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
