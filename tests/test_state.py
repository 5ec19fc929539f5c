"""Crawl state between runs: a site that changes between crawls, and the state database itself."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pipelines.state import SCHEMA_VERSION, CrawlState, StateError, Version
from tests.archivecheck import check_warc_file, responses
from tests.crawlrun import read_jsonl_gz, run_crawl
from tests.site import NewsSite, load_expected

EXPECTED = load_expected()
ARTICLES = sorted(
    p for p, e in EXPECTED.items() if not p.startswith("_") and e["kind"] == "article"
)
EDITED = "/news/2026/11/26/city-council-approves-flood-barrier.html"
WITHDRAWN = "/ar/2026/11/23/123265.html"
NEW = "/news/2026/11/29/harbour-tunnel-opens.html"
NEWSWARC = str(Path(sys.executable).parent / "newswarc")


def config(tmp: Path, site: NewsSite, archive: Path, recrawl_hours: int) -> Path:
    path = tmp / f"meridian-{recrawl_hours}.toml"
    path.write_text(
        f"""name = "meridian"
allowed_domains = ["127.0.0.1"]
feeds = ["{site.base_url}/feed.xml"]
sitemaps = ["{site.base_url}/news-sitemap.xml"]
archive_uri = "{archive}"
[articles]
allow = ['/20\\d\\d/\\d\\d/\\d\\d/']
[schedule]
window_hours = {24 * 60}
recrawl_hours = {recrawl_hours}
"""
    )
    return path


def manifest_of(archive: Path, result: Any) -> dict[str, Any]:
    crawl_id = next(
        line.split("newswarc crawl ", 1)[1].split()[0]
        for line in result.log.splitlines()
        if "newswarc crawl " in line and "finished" in line
    )
    return json.loads((archive / f"crawls/{crawl_id}.json").read_text())


def records_of(archive: Path, crawl_id: str) -> list[dict[str, Any]]:
    return [
        r for p in archive.glob(f"articles/*/*/*/{crawl_id}-*.jsonl.gz") for r in read_jsonl_gz(p)
    ]


def test_runs_archive_only_what_changed(tmp_path: Path, tools_bin: Path) -> None:
    site = NewsSite().start()
    try:
        archive = tmp_path / "archive"
        recrawl = config(tmp_path, site, archive, recrawl_hours=24 * 365)

        # Run 1 archives everything.
        first = run_crawl(tmp_path, ["-a", f"site={recrawl}"])
        assert first.returncode == 0, first.log[-3000:]
        m1 = manifest_of(archive, first)
        r1 = records_of(archive, m1["crawl_id"])
        assert sorted(urlsplit(r["url"]).path for r in r1) == ARTICLES
        assert {r["version"] for r in r1} == {1} and all(r["previous"] is None for r in r1)

        # The site changes: a new story, an edited one, a withdrawn one; the rest unchanged.
        body = site.body(EDITED)
        site.edit(
            EDITED,
            body.replace(
                b"</article>",
                b"<p>Update: the vote was later confirmed by the full council on Friday.</p>"
                b"</article>",
                1,
            ),
        )
        site.publish(
            NEW,
            site.body(ARTICLES[0]).replace(b"<title>", b"<title>Harbour tunnel opens: ", 1),
            "2026-11-29T09:00:00+00:00",
        )
        site.withdraw(WITHDRAWN)
        start = len(site.requests)

        # Run 2 recrawls the young articles: revisits for the unchanged, version 2 for the
        # edited one, version 1 for the new one, nothing for the rest.
        second = run_crawl(tmp_path, ["-a", f"site={recrawl}"])
        assert second.returncode == 0, second.log[-3000:]
        m2 = manifest_of(archive, second)
        fetched2 = {r["path"] for r in site.requests[start:]}
        # Only the feed, the sitemap and the new or recrawled articles: no listing page.
        assert fetched2 <= {"/feed.xml", "/news-sitemap.xml", "/robots.txt", NEW, *ARTICLES}
        assert NEW in fetched2 and EDITED in fetched2
        r2 = {urlsplit(r["url"]).path: r for r in records_of(archive, m2["crawl_id"])}
        assert sorted(r2) == sorted([EDITED, NEW])
        assert r2[NEW]["version"] == 1
        assert r2[EDITED]["version"] == 2
        old = next(r for r in r1 if r["url"].endswith(EDITED))
        assert r2[EDITED]["previous"]["text_sha1"] == old["text_sha1"]
        assert r2[EDITED]["previous"]["record_id"] == old["warc"]["record_id"]
        unchanged = len(ARTICLES) - 2  # all but the edited and the withdrawn
        counts = m2["counts"]
        assert (counts["articles_new"], counts["articles_updated"]) == (1, 1)
        # Revisits: the unchanged articles, and robots.txt, unchanged too.
        assert counts["articles_unchanged"] == unchanged and counts["revisits"] == unchanged + 1
        assert m2["skipped"].get("http_404") == 1
        run2_warcs = [archive / f["key"] for f in m2["files"] if f["key"].endswith(".warc.gz")]
        for warc in run2_warcs:
            check_warc_file(warc)
        statuses = [r["status"] for w in run2_warcs for r in responses(w)]
        assert statuses.count(404) == 1
        from warcio.archiveiterator import ArchiveIterator

        revisited_paths = set()
        for warc in run2_warcs:
            with warc.open("rb") as fh:
                for rec in ArchiveIterator(fh):
                    if rec.rec_type == "revisit":
                        assert rec.rec_headers.get_header("WARC-Refers-To")
                        assert rec.rec_headers.get_header("WARC-Profile").endswith(
                            "/revisit/identical-payload-digest"
                        )
                        url = rec.rec_headers.get_header("WARC-Target-URI")
                        revisited_paths.add(urlsplit(url).path)
        assert revisited_paths == (set(ARTICLES) - {EDITED, WITHDRAWN}) | {"/robots.txt"}

        # Run 3, nothing new and no recrawl: feed and sitemap answer 304, no article is fetched.
        start = len(site.requests)
        quiet = config(tmp_path, site, archive, recrawl_hours=0)
        third = run_crawl(tmp_path, ["-a", f"site={quiet}"])
        assert third.returncode == 0, third.log[-3000:]
        m3 = manifest_of(archive, third)
        fetched = {r["path"] for r in site.requests[start:]}
        assert fetched <= {"/feed.xml", "/news-sitemap.xml", "/robots.txt"}
        assert m3["counts"]["not_modified"] == 2 and records_of(archive, m3["crawl_id"]) == []

        # `newswarc crawls` tells the three runs apart.
        listing = subprocess.run(
            [NEWSWARC, "crawls", str(archive)], capture_output=True, text=True, check=True
        ).stdout.splitlines()
        assert [line.split()[0] for line in listing] == [
            m1["crawl_id"],
            m2["crawl_id"],
            m3["crawl_id"],
        ]
        assert "new    1  updated    1" in listing[1]

        # pywb replays a revisited page with the bytes of the original capture.
        revisited = next(p for p in ARTICLES if p not in (EDITED, WITHDRAWN))
        coll = tmp_path / "pywb"
        coll.mkdir()
        subprocess.run(
            [str(tools_bin / "wb-manager"), "init", "c"], cwd=coll, check=True, capture_output=True
        )
        all_warcs = sorted(archive.glob("warc/*/*/*/*.warc.gz"))
        subprocess.run(
            [str(tools_bin / "wb-manager"), "add", "c", *map(str, all_warcs)],
            cwd=coll,
            check=True,
            capture_output=True,
        )
        from tests.test_replay import _start_wayback, _stop

        proc, base = _start_wayback(tools_bin, coll)
        try:
            run2_time = next(
                rec.rec_headers.get_header("WARC-Date")
                for warc in run2_warcs
                for rec in ArchiveIterator(warc.open("rb"))
                if rec.rec_type == "revisit"
                and rec.rec_headers.get_header("WARC-Target-URI").endswith(revisited)
            )
            run2_time = "".join(c for c in run2_time if c.isdigit())[:14]
            req = urllib.request.Request(f"{base}/c/{run2_time}id_/{site.base_url}{revisited}")
            with urllib.request.urlopen(req) as resp:
                replayed = resp.read()
                memento = resp.headers.get("Memento-Datetime")
            assert replayed == site.body(revisited)
            # The capture replayed is run 2's revisit, resolved to run 1's payload.
            from email.utils import parsedate_to_datetime

            started = datetime.fromisoformat(m2["started"]).replace(microsecond=0)
            assert memento and parsedate_to_datetime(memento) >= started
        finally:
            _stop(proc)
    finally:
        site.stop()


def test_state_schema_is_versioned(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    state = CrawlState(path)
    state.add_version(Version("u", 1, "a" * 40, None, "c", None))
    assert state.latest_version("u") is not None
    state.close()
    import sqlite3

    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(StateError, match="newswarc knows"):
        CrawlState(path)


def test_a_killed_run_is_resumed_without_duplicates_or_losses(tmp_path: Path) -> None:
    import os
    import signal
    import time

    from tests.crawlrun import start_crawl

    site = NewsSite(delay=0.3).start()
    try:
        archive = tmp_path / "archive"
        path = config(tmp_path, site, archive, recrawl_hours=0)
        settings = {"CONCURRENT_REQUESTS": 1, "NEWSWARC_SPOOL_DIR": tmp_path / "spool"}
        proc = start_crawl(tmp_path, ["-a", f"site={path}"], settings)
        spool = tmp_path / "spool"
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline:
                batches = list(spool.glob("articles/*/*/*/*.jsonl.gz.open"))
                if batches and batches[0].stat().st_size > 0:
                    break
                time.sleep(0.1)
            time.sleep(1.0)  # a few more captures and records
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate()
        assert not list(archive.glob("articles/*/*/*/*.jsonl.gz"))  # nothing uploaded yet

        resumed = run_crawl(tmp_path, ["-a", f"site={path}"], settings)
        assert resumed.returncode == 0, resumed.log[-3000:]
        records = [r for p in archive.glob("articles/*/*/*/*.jsonl.gz") for r in read_jsonl_gz(p)]
        paths = [urlsplit(r["url"]).path for r in records]
        assert sorted(paths) == ARTICLES, resumed.log[-2500:]  # every article once
        assert {r["version"] for r in records} == {1}
        killed = {r["crawl_id"] for r in records}
        assert len(killed) == 2  # some records come from the killed run, recovered
        for warc in archive.glob("warc/*/*/*/*.warc.gz"):
            check_warc_file(warc)
    finally:
        site.stop()
