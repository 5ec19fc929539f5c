"""A real Redis server on loopback for tests: Debian's ``redis-server``, AOF on, a free port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

PASSWORD = "test-redis-secret"


def redis_binary() -> str:
    """Return Debian's ``redis-server`` (``make test`` installs it when missing)."""
    for candidate in ("/usr/bin/redis-server", shutil.which("redis-server")):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError("redis-server not found: apt-get install redis-server (make redis)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """Start, stop and restart one ``redis-server`` bound to 127.0.0.1 on a port chosen free.

    Data and the append-only file live in ``data_dir``, so a stopped server comes back with what
    it had (``appendfsync always``: nothing acknowledged is lost in a stop). ``password`` turns
    on ``requirepass``; ``url`` carries it.
    """

    def __init__(self, data_dir: Path, *, password: str | None = PASSWORD) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.password = password
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "redis.log"

    @property
    def url(self) -> str:
        """The ``redis://`` URL of database 0, with the password."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """A new client of the server."""
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def start(self, timeout: float = 20.0) -> RedisServer:
        """Start the server and wait until it answers PING."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            redis_binary(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.data_dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--protected-mode",
            "yes",
            "--daemonize",
            "no",
            "--logfile",
            str(self.log),
        ]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.client().ping():
                    return self
            except (redis.ConnectionError, redis.BusyLoadingError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = self.log.read_text() if self.log.exists() else ""
                self.stop()
                raise RuntimeError(f"redis-server did not start:\n{log[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (SIGTERM: it finishes writing its append-only file) and wait."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def flush(self) -> None:
        """Empty every database (between tests sharing the server)."""
        self.client().flushall()

    def __del__(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, 15)
