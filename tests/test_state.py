"""Crawl state between runs: a site that changes between crawls, and the state database itself."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime
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

    # Slow enough that pages are still waiting when the first records are written.
    site = NewsSite(delay=1.0).start()
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


# -- incremental crawls from listing pages ----------------------------------------------------

LISTINGS = ("/", "/world/", "/arabic/", "/about.html", "/gen/index-1.html", "/latest/")
FRESH = [f"/news/2026/11/30/council-story-{i}.html" for i in range(5)]


def listing_config(tmp: Path, site: NewsSite, archive: Path) -> Path:
    """A site config with a feed, robots.txt sitemaps and section pages, no recrawl."""
    base = site.base_url
    path = tmp / "listings.toml"
    path.write_text(
        f"""name = "listings"
allowed_domains = ["127.0.0.1"]
start_urls = ["{base}/", "{base}/latest/"]
feeds = ["{base}/feed.xml"]
sitemaps = ["robots"]
archive_uri = "{archive}"
[articles]
allow = ['/20\\d\\d/\\d\\d/\\d\\d/', '/gen/\\d{{6}}\\.html$']
[schedule]
window_hours = {24 * 60}
recrawl_hours = 0
"""
    )
    return path


def change_site(site: NewsSite) -> None:
    """Five new articles (on /latest/, the feed and the sitemaps) and one edit (new lastmod)."""
    for i, path in enumerate(FRESH):
        body = site.body(ARTICLES[0]).replace(b"<title>", f"<title>Council story {i}: ".encode(), 1)
        site.publish(path, body, f"2026-11-30T0{i}:00:00+00:00")
    edited = site.body(EDITED).replace(
        b"</article>", b"<p>Update: the full council confirmed the vote on Friday.</p></article>", 1
    )
    site.edit(EDITED, edited, modified=datetime.now(UTC).isoformat())


def test_a_second_run_fetches_no_unchanged_article_found_on_listings(tmp_path: Path) -> None:
    site = NewsSite(generated=54).start()
    try:
        archive = tmp_path / "archive"
        path = listing_config(tmp_path, site, archive)

        first = run_crawl(tmp_path, ["-a", f"site={path}"])
        assert first.returncode == 0, first.log[-3000:]
        m1 = manifest_of(archive, first)
        r1 = {urlsplit(r["url"]).path for r in records_of(archive, m1["crawl_id"])}
        generated = {p for p in site.generated_paths() if "index" not in p}
        assert len(generated) == 54
        assert r1 == set(ARTICLES) | generated
        # The gallery: an article URL whose page is too short to be one (a verdict, recorded).
        assert m1["skipped"]["too_short"] == 1

        change_site(site)
        start = len(site.requests)
        second = run_crawl(tmp_path, ["-a", f"site={path}"])
        assert second.returncode == 0, second.log[-3000:]
        m2 = manifest_of(archive, second)
        requests = site.requests[start:]
        fetched = {r["path"] for r in requests}

        # No unchanged article page, found on a listing, in the feed or in a sitemap; the redirect
        # to a known article is known too; the gallery's verdict stands.
        assert fetched & (r1 - {EDITED}) == set(), sorted(fetched & r1)
        assert "/old/story-123" not in fetched
        assert "/news/2026/11/25/big-photo-gallery.html" not in fetched
        # The new ones, and the edited one (its sitemap lastmod is after the last fetch).
        assert set(FRESH) <= fetched and EDITED in fetched, sorted(fetched)
        # Listings fetched again, conditionally: unchanged ones answer 304, /latest/ changed.
        for listing in LISTINGS:
            (req,) = [r for r in requests if r["path"] == listing]
            headers = dict(req["headers"])
            assert headers.get("If-None-Match") and headers.get("If-Modified-Since"), listing
        sent = {p: site.sent(p)[-1] for p in LISTINGS}
        assert [p for p, body in sent.items() if body] == ["/latest/"]
        assert b"council-story-4.html" in sent["/latest/"]
        assert fetched <= {
            *LISTINGS,
            *FRESH,
            EDITED,
            "/robots.txt",
            "/feed.xml",
            "/sitemap.xml",
            "/missing-page.html",  # a 404 is no article: asked again
        }, sorted(fetched)

        r2 = {urlsplit(r["url"]).path: r for r in records_of(archive, m2["crawl_id"])}
        assert sorted(r2) == sorted([*FRESH, EDITED])
        assert r2[EDITED]["version"] == 2 and {r2[p]["version"] for p in FRESH} == {1}
        counts = m2["counts"]
        # Every article of run 1 but the edited one, and the gallery: each counted once, though
        # most are found on a listing, in the feed and in the sitemap.
        assert counts["known_not_refetched"] == len(r1) - 1 + 1
        assert counts["refetched_modified"] == 1 and counts["refetched_recrawl"] == 0
        assert counts["listings_not_modified"] == len(LISTINGS) - 1
        assert (counts["articles_new"], counts["articles_updated"]) == (5, 1)
    finally:
        site.stop()


def test_start_urls_crawls_into_an_archive_with_state_skip_known_articles(tmp_path: Path) -> None:
    site = NewsSite().start()
    try:
        archive = tmp_path / "archive"
        args = ["-a", f"start_urls={site.base_url}/,{site.base_url}/latest/"]
        settings = {"NEWSWARC_ARCHIVE_URI": archive}
        first = run_crawl(tmp_path, args, settings)
        assert first.returncode == 0, first.log[-3000:]
        r1 = {
            urlsplit(r["url"]).path
            for r in records_of(archive, manifest_of(archive, first)["crawl_id"])
        }
        assert r1 == set(ARTICLES)

        change_site(site)
        start = len(site.requests)
        second = run_crawl(tmp_path, args, settings)
        assert second.returncode == 0, second.log[-3000:]
        m2 = manifest_of(archive, second)
        requests = site.requests[start:]
        fetched = {r["path"] for r in requests}
        # Links carry no change date: the edited article waits for a recrawl, like the rest.
        assert fetched & r1 == set(), sorted(fetched & r1)
        assert set(FRESH) <= fetched
        assert all(
            dict(r["headers"]).get("If-None-Match")
            for r in requests
            if r["path"] in ("/", "/latest/")
        )
        r2 = {urlsplit(r["url"]).path for r in records_of(archive, m2["crawl_id"])}
        assert r2 == set(FRESH)
        assert m2["counts"]["known_not_refetched"] == len(r1) + 1  # and the gallery

        # A recrawl window (no site config: NEWSWARC_RECRAWL_HOURS) refetches the young ones:
        # the edit becomes version 2, the unchanged ones revisits with no new record.
        start = len(site.requests)
        third = run_crawl(tmp_path, args, {**settings, "NEWSWARC_RECRAWL_HOURS": 24 * 365})
        assert third.returncode == 0, third.log[-3000:]
        m3 = manifest_of(archive, third)
        assert EDITED in {r["path"] for r in site.requests[start:]}
        r3 = {urlsplit(r["url"]).path: r for r in records_of(archive, m3["crawl_id"])}
        assert sorted(r3) == [EDITED] and r3[EDITED]["version"] == 2
    finally:
        site.stop()
