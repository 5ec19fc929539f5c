"""End to end: one crawl of the hostile site; every case is logged, counted, named and archived."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.crawlrun import SCRAPY, crawl_env, read_jsonl_gz
from tests.site.hostile import (
    ARTICLES,
    BIG_BYTES,
    DISALLOWED,
    ODD_ARTICLES,
    OTHER_ARTICLE,
    RETRY_AFTER,
    TRUNCATED_GZIP,
    HostileSite,
)

MIB = 1 << 20
MAXSIZE = 4 * MIB
TIME_LIMIT = 4.0
#: Peak RSS the crawl (or any of its worker processes) may reach: a decoded bomb alone is 1 GiB.
RSS_BOUND_KB = 600 * 1024
SETTINGS = {
    "DOWNLOAD_MAXSIZE": MAXSIZE,
    "DOWNLOAD_WARNSIZE": 2 * MIB,
    "DOWNLOAD_TIMEOUT": 8,
    "NEWSWARC_DOWNLOAD_TIME_LIMIT": TIME_LIMIT,
    "NEWSWARC_ROBOTSTXT_TIMEOUT": 2,
    "NEWSWARC_RETRY_AFTER_MAX": 5,
    "REDIRECT_MAX_TIMES": 10,
}
# Runs the crawl as its child and reports the peak RSS of the largest process below it.
_WRAPPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as fh:
    fh.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""

#: path -> (reason, WARC-Truncated of its captures: None for whole, "absent" for no capture).
CASES: dict[str, tuple[str, str | None]] = {
    "/robots.txt": ("robots_txt_too_large", "length"),
    "/bomb/gzip.html": ("decompression_bomb", None),
    "/bomb/brotli.html": ("decompression_bomb", None),
    "/big/announced.html": ("too_large", "length"),
    "/big/chunked.html": ("too_large", "length"),
    "/slow/drip.html": ("too_slow", "time"),
    "/redirect/loop-a": ("redirect_loop", None),
    "/redirect/chain/0": ("too_many_redirects", None),
    "/binary.html": ("binary_as_html", None),
    "/documents/annual-report": ("not_html", None),
    "/news/2026/12/01/unknown-charset-story.html": ("unknown_charset", None),
    "/news/2026/12/01/wrong-charset-story.html": ("charset_mismatch", None),
    "/news/2026/12/01/nul-bytes-story.html": ("malformed_html", None),
    "/framing/short-length.html": ("dataloss", "disconnect"),
    "/framing/bad-chunk.html": ("dataloss", "disconnect"),
    "/framing/cut-gzip.html": ("dataloss", "disconnect"),
    "/framing/bad-header.html": ("invalid_response", "absent"),
    "/framing/bad-status.html": ("invalid_response", "absent"),
    TRUNCATED_GZIP: ("truncated_encoding", None),
    "/retry/over-cap.html": ("retry_after_over_cap", None),
}
GOOD = [
    "/news/2026/12/01/good-plain-story.html",
    "/news/2026/12/01/good-gzip-story.html",
    "/news/2026/12/01/retry-429-story.html",
    "/news/2026/12/01/retry-503-story.html",
    *(p for p in ODD_ARTICLES if "deep-nesting" not in p),
]


def _warc_records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type not in ("response", "request"):
                continue
            yield {
                "type": rec.rec_type,
                "url": rec.rec_headers.get_header("WARC-Target-URI"),
                "truncated": rec.rec_headers.get_header("WARC-Truncated"),
                "status": int(rec.http_headers.get_statuscode())
                if rec.rec_type == "response"
                else 0,
                "headers": dict(rec.http_headers.headers) if rec.rec_type == "response" else {},
                "raw": rec.raw_stream.read(),
            }


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileSite]:
    # 1 GiB bombs: the crawl stops at 4 MiB either way; warcio check decodes all of each.
    site = HostileSite(bomb_bytes=1 << 30).start()
    yield site
    site.stop()


@pytest.fixture(scope="module")
def crawl(hostile: HostileSite, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("hostile-crawl")
    archive = tmp / "archive"
    rss = tmp / "rss.txt"
    cmd = [sys.executable, "-c", _WRAPPER, str(rss), SCRAPY, "crawl", "news"]
    cmd += ["-a", f"start_urls={hostile.base_url}/"]
    for key, value in {**SETTINGS, "NEWSWARC_ARCHIVE_URI": archive}.items():
        cmd += ["-s", f"{key}={value}"]
    proc = subprocess.run(
        cmd, cwd=tmp, env=crawl_env(tmp), capture_output=True, text=True, timeout=150, check=False
    )
    log = proc.stderr + proc.stdout
    assert proc.returncode == 0, log[-3000:]
    manifest = json.loads(next(archive.glob("crawls/*.json")).read_text("utf-8"))
    warcs = sorted(archive.glob("warc/*/*/*/*.warc.gz"))
    records = [r for w in warcs for r in _warc_records(w)]
    articles = [
        r for f in sorted(archive.glob("articles/*/*/*/*.jsonl.gz")) for r in read_jsonl_gz(f)
    ]
    dump = log[log.index("Dumping Scrapy stats:") :]
    stats = {k: int(v) for k, v in re.findall(r"'([^']+)': (\d+)[,}]", dump[: dump.index("}") + 1])}
    return {
        "log": log,
        "manifest": manifest,
        "warcs": warcs,
        "records": records,
        "articles": {urlsplit(a["url"]).path: a for a in articles},
        "stats": stats,
        "rss_kb": int(rss.read_text()),
        "site": hostile,
    }


def _captures(crawl: dict[str, Any], path: str, *, other: bool = False) -> list[dict[str, Any]]:
    site = crawl["site"]
    url = (site.other_url if other else site.base_url) + path
    return [r for r in crawl["records"] if r["type"] == "response" and r["url"] == url]


@pytest.mark.parametrize("path", sorted(CASES))
def test_each_case_is_logged_counted_named_and_archived(crawl: dict[str, Any], path: str) -> None:
    reason, truncated = CASES[path]
    url = crawl["site"].base_url + path
    assert f"newswarc: {reason}: {url}" in crawl["log"]
    assert crawl["stats"].get(f"newswarc/problems/{reason}", 0) >= 1
    problems = crawl["manifest"]["problems"][reason]
    assert url in [p["url"] for p in problems["urls"]]
    assert problems["count"] == crawl["stats"][f"newswarc/problems/{reason}"]
    captures = _captures(crawl, path)
    if truncated == "absent":
        assert captures == []  # nothing parseable came: no response to archive
        return
    assert captures, path
    assert {c["truncated"] for c in captures} == {truncated}
    # No page with a problem that cuts or spoils it became an article.
    if reason not in ("unknown_charset", "charset_mismatch", "malformed_html"):
        assert path not in crawl["articles"]


def test_good_pages_of_the_same_crawl_are_articles(crawl: dict[str, Any]) -> None:
    for path in GOOD:
        article = crawl["articles"][path]
        title = ARTICLES[path][0] if path in ARTICLES else ODD_ARTICLES[path]
        assert article["title"] == title
        assert len(article["text"]) > 400
    other = crawl["site"].other_url + OTHER_ARTICLE
    assert any(a["url"] == other for a in crawl["articles"].values())
    # The text of the page declared UTF-8 but sent in cp1252 is still read right.
    assert "Café crème" in crawl["articles"]["/news/2026/12/01/wrong-charset-story.html"]["text"]


def test_cut_bodies_keep_what_came_and_say_so(crawl: dict[str, Any]) -> None:
    (announced,) = _captures(crawl, "/big/announced.html")
    assert announced["raw"] == b""  # stopped at the headers, which announced too much
    assert announced["headers"]["X-Crawler-Content-Length"] == str(BIG_BYTES)
    (chunked,) = _captures(crawl, "/big/chunked.html")
    assert MAXSIZE < len(chunked["raw"]) <= MAXSIZE + MIB
    assert chunked["raw"].startswith(b"<p>xxx")
    (drip,) = _captures(crawl, "/slow/drip.html")
    assert drip["raw"].startswith(b"<html><body><p>z")
    (robots,) = _captures(crawl, "/robots.txt")
    # The WARC keeps every byte that came; the parser got its complete lines only.
    assert robots["raw"].startswith(b"User-agent: *\n")
    assert 500 * 1024 < len(robots["raw"]) <= 500 * 1024 + MIB
    # Retried once, each attempt archived as far as it came.
    short = _captures(crawl, "/framing/short-length.html")
    assert len(short) == 2
    assert all(0 < len(c["raw"]) < int(c["headers"]["X-Crawler-Content-Length"]) for c in short)


def test_bombs_are_archived_whole_as_sent(crawl: dict[str, Any]) -> None:
    (gz,) = _captures(crawl, "/bomb/gzip.html")
    assert gz["raw"][:2] == b"\x1f\x8b" and gz["headers"]["Content-Encoding"] == "gzip"
    assert MIB / 2 < len(gz["raw"]) < 2 * MIB  # ~1 KB per MiB of zeros: the whole stream
    (br,) = _captures(crawl, "/bomb/brotli.html")
    assert br["headers"]["Content-Encoding"] == "br"


def test_retry_after_is_honoured_within_the_cap(crawl: dict[str, Any]) -> None:
    site = crawl["site"]
    for path, wait in (
        ("/news/2026/12/01/retry-429-story.html", RETRY_AFTER),
        ("/news/2026/12/01/retry-503-story.html", RETRY_AFTER + 1),
    ):
        first, second = site.requested(path)
        assert second["time"] - first["time"] >= wait - 0.2, path
    assert len(site.requested("/retry/over-cap.html")) == 1  # given up, not retried at once
    assert crawl["stats"]["newswarc/retry_after/waits"] == 2


def test_loops_and_chains_stop_and_are_captured(crawl: dict[str, Any]) -> None:
    site = crawl["site"]
    assert len(site.requested("/redirect/loop-a")) == 1
    assert len(site.requested("/redirect/loop-b")) == 1
    chain = [r for r in crawl["records"] if r["type"] == "response" and "/chain/" in r["url"]]
    assert sorted(r["url"].rsplit("/", 1)[1] for r in chain) == sorted(str(i) for i in range(11))
    assert {r["status"] for r in chain} == {302}
    loop = crawl["manifest"]["problems"]["redirect_loop"]["urls"][0]
    assert "loop-b" in loop["detail"]


def test_truncated_gzip_is_flagged_and_retried_not_an_article(crawl: dict[str, Any]) -> None:
    assert len(crawl["site"].requested(TRUNCATED_GZIP)) == 2
    assert TRUNCATED_GZIP not in crawl["articles"]
    assert all(c["truncated"] is None for c in _captures(crawl, TRUNCATED_GZIP))


def test_robots_txt_too_large_or_silent_does_not_stop_the_crawl(crawl: dict[str, Any]) -> None:
    site = crawl["site"]
    # The rules at the top of the huge robots.txt were applied.
    assert site.requested(DISALLOWED) == []
    assert crawl["stats"]["robotstxt/forbidden"] >= 1
    other = site.other_url + "/robots.txt"
    assert f"newswarc: robots_txt_unavailable: {other}" in crawl["log"]
    assert _captures(crawl, "/robots.txt", other=True) == []


def test_malformed_html_does_not_stop_the_crawl(crawl: dict[str, Any]) -> None:
    url = crawl["site"].base_url + "/news/2026/12/01/deep-nesting-story.html"
    (deep,) = _captures(crawl, "/news/2026/12/01/deep-nesting-story.html")
    assert deep["raw"].count(b"<div>") == 100_000
    # Its outcome is counted: an article, or a page dropped with its reason.
    assert "/news/2026/12/01/deep-nesting-story.html" in crawl["articles"] or (
        f"Dropped {url}: " in crawl["log"]
    )
    assert "/news/2026/12/01/broken-nesting-story.html" in crawl["articles"]


def test_warc_stays_valid(crawl: dict[str, Any], tools_bin: Path) -> None:
    assert crawl["warcs"]
    for path in crawl["warcs"]:
        # The tools' warcio: the main venv's brotli package cannot read a brotli record.
        check = subprocess.run(
            [str(tools_bin / "warcio"), "check", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert subprocess.run(["gzip", "-t", str(path)], check=False).returncode == 0
    # A request went out whole: only responses are ever marked truncated.
    assert all(r["truncated"] is None for r in crawl["records"] if r["type"] == "request")


def test_crawl_finishes_with_bounded_memory(crawl: dict[str, Any]) -> None:
    assert crawl["manifest"]["finish_reason"] == "finished"
    assert 0 < crawl["rss_kb"] < RSS_BOUND_KB, crawl["rss_kb"]
    summary = crawl["log"][crawl["log"].index("newswarc crawl ") :]
    assert "problems:        binary_as_html 1," in summary
