"""Run ``scrapy crawl news`` as a subprocess the way a user does, and read what it archived."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCRAPY = str(Path(sys.executable).parent / "scrapy")

# Logs every outgoing connection and name lookup of the crawl (and its worker processes) to a
# file, so tests can prove nothing left the machine.
_AUDIT = """
import os, sys
_log = os.environ.get("NEWSWARC_TEST_CONNECT_LOG")
if _log:
    def _hook(event, args):
        if event in ("socket.connect", "socket.getaddrinfo"):
            try:
                addr = args[1] if event == "socket.connect" else ("dns", args[0])
                with open(_log, "a") as fh:
                    fh.write(repr(addr) + "\\n")
            except Exception:
                pass
    sys.addaudithook(_hook)
"""


@dataclass
class CrawlResult:
    """What one crawl run printed and returned."""

    returncode: int
    stdout: str
    stderr: str
    connections: list[str]

    @property
    def log(self) -> str:
        return self.stderr + self.stdout


def crawl_env(tmp: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a crawl subprocess: test settings, audit hook, no stray AWS config."""
    hook_dir = tmp / "audit-hook"
    hook_dir.mkdir(parents=True, exist_ok=True)
    (hook_dir / "sitecustomize.py").write_text(_AUDIT)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "SCRAPY_", "ARCHIVE_URI", "NEWSWARC_"))
    }
    env.update(
        {
            "SCRAPY_SETTINGS_MODULE": "settings.test",
            "PYTHONPATH": os.pathsep.join([str(hook_dir), str(ROOT)]),
            "NEWSWARC_TEST_CONNECT_LOG": str(tmp / "connections.log"),
            "HOME": str(tmp / "home"),
            "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
        }
    )
    env.update(extra or {})
    return env


def start_crawl(
    tmp: Path,
    args: Iterable[str],
    settings: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[str]:
    """Start ``scrapy crawl news`` in the background."""
    cmd = [SCRAPY, "crawl", "news", *args]
    for key, value in (settings or {}).items():
        cmd += ["-s", f"{key}={value}"]
    return subprocess.Popen(
        cmd,
        cwd=tmp,
        env=crawl_env(tmp, env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_crawl(
    tmp: Path,
    args: Iterable[str],
    settings: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> CrawlResult:
    """Run a crawl to its end and return its output."""
    log = tmp / "connections.log"
    log.unlink(missing_ok=True)
    proc = start_crawl(tmp, args, settings, env)
    out, err = proc.communicate(timeout=timeout)
    connections = log.read_text().splitlines() if log.exists() else []
    return CrawlResult(proc.returncode, out, err, connections)


def read_jsonl_gz(path: Path) -> list[dict[str, Any]]:
    """Read every record of a gzipped JSON Lines file."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
