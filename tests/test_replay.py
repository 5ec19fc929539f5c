"""pywb replays the test site from the archive's WARC files, and from a WACZ package of them."""

from __future__ import annotations

import gzip
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest

from pipelines.cdxj import IndexLine
from pipelines.storage import FileStorage
from pipelines.wacz import write_wacz
from tests.site.server import NOT_FOUND_HTML

GZIP_ARTICLE = "/news/2026/11/27/port-strike-talks-collapse.html"
CP1256_ARTICLE = "/ar/2026/11/24/123290.html"
REDIRECT = "/old/story-123"
MOVED = "/news/2026/11/26/moved-story.html"
MISSING = "/missing-page.html"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx comes back as an HTTPError, its Location untouched


# No proxy from the environment: every request here goes to 127.0.0.1.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
    """GET ``url`` without following redirects; return status, headers and body as received."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with _OPENER.open(request, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers, err.read()


def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, f"{cmd}: {proc.stdout}{proc.stderr}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def _start_wayback(tools_bin: Path, cwd: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``wayback`` on a free loopback port; return it once it answers."""
    log = cwd / "wayback.log"
    for _attempt in range(3):  # another process may take the free port before wayback does
        port = _free_port()
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [str(tools_bin / "wayback"), "-p", str(port), "-b", "127.0.0.1"],
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    status, _, _ = fetch(base + "/")
                except OSError:
                    time.sleep(0.2)
                    continue
                if status == 200:
                    return proc, base
                time.sleep(0.2)
        except BaseException:
            _stop(proc)
            raise
        _stop(proc)
    raise RuntimeError(f"wayback did not start: {log.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="module")
def replay(
    local_crawl: dict[str, Any], tools_bin: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    archive: Path = local_crawl["archive"]
    warcs = sorted((archive / "warc").glob("*/*/*/*.warc.gz"))
    assert warcs
    stamps = {}
    for index in sorted((archive / "warc").glob("*/*/*/*.cdxj")):
        for text in index.read_text("utf-8").splitlines():
            line = IndexLine.parse(text)
            stamps[line.data["url"]] = line.timestamp

    root = tmp_path_factory.mktemp("pywb")
    manager = str(tools_bin / "wb-manager")
    _run([manager, "init", "coll"], root)
    _run([manager, "add", "coll", *map(str, warcs)], root)

    wacz = root / "crawl.wacz"
    (manifest,) = archive.glob("crawls/*.json")
    summary = write_wacz(FileStorage(archive), wacz, crawl_id=manifest.stem)
    assert summary.written
    _run([manager, "init", "coll2"], root)
    _run([manager, "add", "--unpack-wacz", "coll2", str(wacz)], root)

    proc, base = _start_wayback(tools_bin, root)
    try:
        yield {
            "base": base,
            "root": root,
            "stamps": stamps,
            "site": local_crawl["site"],
            "warcs": warcs,
        }
    finally:
        _stop(proc)
    assert proc.poll() is not None


def _replay_url(replay: dict[str, Any], path: str, coll: str = "coll") -> str:
    original = replay["site"].url(path)
    return f"{replay['base']}/{coll}/{replay['stamps'][original]}id_/{original}"


def _header(headers: Message, name: str) -> str | None:
    value = headers.get(name)
    return None if value is None else str(value)


def test_gzip_article_replays_with_the_bytes_sent(replay: dict[str, Any]) -> None:
    site = replay["site"]
    status, headers, body = fetch(_replay_url(replay, GZIP_ARTICLE), {"Accept-Encoding": "gzip"})
    assert status == 200
    assert _header(headers, "Content-Encoding") == "gzip"
    assert body in site.sent(GZIP_ARTICLE)  # the compressed bytes, exactly as the site sent them
    assert gzip.decompress(body) == site.body(GZIP_ARTICLE)
    assert _header(headers, "Memento-Datetime")
    # A client that does not accept gzip gets the same page, decoded by pywb.
    status, headers, body = fetch(_replay_url(replay, GZIP_ARTICLE))
    assert status == 200 and _header(headers, "Content-Encoding") is None
    assert body == site.body(GZIP_ARTICLE)


def test_cp1256_article_replays_byte_for_byte(replay: dict[str, Any]) -> None:
    site = replay["site"]
    status, headers, body = fetch(_replay_url(replay, CP1256_ARTICLE))
    assert status == 200
    assert _header(headers, "Content-Type") == "text/html; charset=windows-1256"
    assert body == site.body(CP1256_ARTICLE)
    assert "\u0627" in body.decode("cp1256")  # Arabic, in its single-byte encoding
    # id_ mode: no banner, no rewriting, no re-encoding to UTF-8.
    assert len(body) == int(_header(headers, "Content-Length") or -1)


def test_redirect_replays_with_its_location(replay: dict[str, Any]) -> None:
    site = replay["site"]
    status, headers, _ = fetch(_replay_url(replay, REDIRECT))
    assert status in (301, 302)
    location = _header(headers, "Location")
    assert location is not None and location.endswith(MOVED)
    assert urljoin(site.url(REDIRECT), location) == site.url(MOVED)
    # The target was archived too, and replays.
    status, _, body = fetch(_replay_url(replay, MOVED))
    assert status == 200 and body == site.body(MOVED)


def test_archived_404_replays_as_archived(replay: dict[str, Any]) -> None:
    status, headers, body = fetch(_replay_url(replay, MISSING))
    assert status == 404
    assert body == NOT_FOUND_HTML  # the site's own page, not pywb's "not found"
    assert _header(headers, "Memento-Datetime")
    # A URL that was never archived is a 404 of pywb's own: no memento, another page.
    never = replay["site"].url("/never-crawled.html")
    stamp = replay["stamps"][replay["site"].url(MISSING)]
    status, headers, body = fetch(f"{replay['base']}/coll/{stamp}id_/{never}")
    assert status == 404 and body != NOT_FOUND_HTML
    assert _header(headers, "Memento-Datetime") is None


def test_page_replays_from_the_wacz(replay: dict[str, Any]) -> None:
    site = replay["site"]
    unpacked = sorted((replay["root"] / "collections/coll2/archive").glob("*.warc.gz"))
    # --unpack-wacz copies the WARC files and merges the package's index into the collection.
    assert len(unpacked) == len(replay["warcs"])
    assert (replay["root"] / "collections/coll2/indexes/index.cdxj").stat().st_size > 0
    status, headers, body = fetch(
        _replay_url(replay, CP1256_ARTICLE, coll="coll2"), {"Accept-Encoding": "gzip"}
    )
    assert status == 200 and body == site.body(CP1256_ARTICLE)
    status, headers, body = fetch(
        _replay_url(replay, GZIP_ARTICLE, coll="coll2"), {"Accept-Encoding": "gzip"}
    )
    assert status == 200 and _header(headers, "Content-Encoding") == "gzip"
    assert gzip.decompress(body) == site.body(GZIP_ARTICLE)
