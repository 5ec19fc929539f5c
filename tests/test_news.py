"""End to end: ``scrapy crawl news`` over the local test site into a local folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.archivecheck import (
    check_warc_file,
    requests,
    resolve_pointer,
    responses,
    schema_errors,
    spool_leftovers,
)
from tests.crawlrun import read_jsonl_gz, run_crawl
from tests.site import load_expected

EXPECTED = load_expected()
ARTICLES = {p: e for p, e in EXPECTED.items() if not p.startswith("_") and e["kind"] == "article"}


def _records(archive: Path) -> list[dict[str, Any]]:
    return [r for f in sorted(archive.glob("articles/*/*/*/*.jsonl.gz")) for r in read_jsonl_gz(f)]


def _warcs(archive: Path) -> list[Path]:
    return sorted(archive.glob("warc/*/*/*/*.warc.gz"))


@pytest.fixture(scope="module")
def crawl(local_crawl: dict[str, Any]) -> dict[str, Any]:
    archive = local_crawl["archive"]
    return {
        **local_crawl,
        "records": _records(archive),
        "warcs": _warcs(archive),
        "base": local_crawl["site"].base_url,
    }


def test_every_article_page_yields_exactly_one_record(crawl: dict[str, Any]) -> None:
    paths = [urlsplit(r["url"]).path for r in crawl["records"]]
    assert sorted(paths) == sorted(ARTICLES)
    # Non-articles (listings, about page, photo gallery, 404) give no record.
    for path, exp in EXPECTED.items():
        if not path.startswith("_") and exp["kind"] != "article":
            assert path not in paths


def test_every_record_validates_against_the_schema(crawl: dict[str, Any]) -> None:
    for record in crawl["records"]:
        assert schema_errors(record) == [], record["url"]


def test_every_warc_pointer_resolves_to_its_response(crawl: dict[str, Any]) -> None:
    archive = crawl["archive"]
    for record in crawl["records"]:
        ptr = record["warc"]
        path = next(p for p in crawl["warcs"] if p.name == ptr["filename"])
        assert ptr["uri"] == path.as_uri()
        assert path.relative_to(archive).as_posix().startswith("warc/")
        rec = resolve_pointer(path.read_bytes(), ptr)
        assert rec["type"] == "response"
        assert rec["url"] == record["url"]
        assert rec["id"] == ptr["record_id"]
        assert rec["digest"] == ptr["payload_digest"]


def test_warc_files_pass_warcio_check_and_gzip_test(crawl: dict[str, Any]) -> None:
    assert crawl["warcs"]
    for path in crawl["warcs"]:
        check_warc_file(path)


def test_every_warc_has_its_cdxj_index_and_every_line_resolves(crawl: dict[str, Any]) -> None:
    from pipelines.cdxj import IndexLine

    for path in crawl["warcs"]:
        index = path.with_name(path.name.removesuffix(".warc.gz") + ".cdxj")
        lines = [IndexLine.parse(t) for t in index.read_text("utf-8").splitlines()]
        assert len(lines) == len(responses(path)) and lines == sorted(lines)
        data = path.read_bytes()
        for line in lines:
            d = line.data
            rec = resolve_pointer(data, {"offset": int(d["offset"]), "length": int(d["length"])})
            assert rec["type"] == "response" and rec["url"] == d["url"]
            assert rec["digest"] == d["digest"] and d["filename"] == path.name


def test_warc_bodies_are_the_bytes_the_server_sent(crawl: dict[str, Any]) -> None:
    site = crawl["site"]
    seen = {}
    for path in crawl["warcs"]:
        for rec in responses(path):
            seen[urlsplit(rec["url"]).path] = rec
    for path, exp in ARTICLES.items():
        rec = seen[path]
        assert rec["raw"] == site.sent(path)[-1], path
        headers = {k.lower(): v for k, v in rec["headers"]}
        if exp["transport"] == "gzip":
            assert headers.get("content-encoding") == "gzip"
            assert rec["raw"][:2] == b"\x1f\x8b"  # still compressed, as sent
        if exp["transport"] == "chunked":
            assert headers.get("x-crawler-transfer-encoding", "chunked") == "chunked"
            assert "transfer-encoding" not in headers


def test_redirect_404_robots_and_cookies_are_captured(crawl: dict[str, Any]) -> None:
    recs = [r for p in crawl["warcs"] for r in responses(p)]
    by_path = {urlsplit(r["url"]).path: r for r in recs}
    redirect = by_path["/old/story-123"]
    assert redirect["status"] == 301
    assert ("Location", EXPECTED["/old/story-123"]["redirect_to"]) in [
        (k.title(), urlsplit(v).path if "://" in v else v) for k, v in redirect["headers"]
    ]
    assert by_path["/missing-page.html"]["status"] == 404
    assert by_path["/robots.txt"]["status"] == 200
    cookies = [v for k, v in by_path["/"]["headers"] if k.lower() == "set-cookie"]
    assert cookies == EXPECTED["_site"]["cookies"]
    moved = next(r for r in crawl["records"] if r["url"].endswith("/moved-story.html"))
    assert moved["requested_url"].endswith("/old/story-123")
    # robots.txt is obeyed: the disallowed page was never requested.
    assert not [r for r in crawl["site"].requests if r["path"].startswith("/private/")]


def test_request_records_match_what_the_server_received(crawl: dict[str, Any]) -> None:
    site = crawl["site"]
    received: dict[str, list[list[tuple[str, str]]]] = {}
    for r in site.requests:  # other crawls share the site: any request of the path may be ours
        received.setdefault(r["path"], []).append(sorted((k.lower(), v) for k, v in r["headers"]))
    checked = 0
    for path in crawl["warcs"]:
        for req in requests(path):
            target = urlsplit(req["url"])
            wire = received.get(target.path + (f"?{target.query}" if target.query else ""))
            if wire is None:
                continue
            assert req["concurrent"]
            assert req["line"].startswith(f"GET {target.path}")
            assert sorted((k.lower(), v) for k, v in req["headers"]) in wire, target.path
            checked += 1
    assert checked >= 10


def test_article_text_is_clean_and_decoded(crawl: dict[str, Any]) -> None:
    by_path = {urlsplit(r["url"]).path: r for r in crawl["records"]}
    for path, exp in ARTICLES.items():
        record = by_path[path]
        text = record["text"]
        for headline in exp.get("related_headlines") or []:
            assert headline not in text, (path, headline)
        paragraphs = exp["paragraphs"]
        found = sum(" ".join(p.split()) in " ".join(text.split()) for p in paragraphs)
        # Trafilatura may merge or drop a boundary line; the body must be there nearly whole.
        assert found >= len(paragraphs) - 1, (path, found, len(paragraphs))
        assert "\ufffd" not in text and "Ø" not in text  # no mojibake
        assert record["language"] == exp["language"]
        if exp.get("kept_link_sentence"):
            assert " ".join(exp["kept_link_sentence"].split()) in " ".join(text.split())


def test_manifest_matches_the_archive(crawl: dict[str, Any]) -> None:
    archive = crawl["archive"]
    manifests = list(archive.glob("crawls/*.json"))
    assert len(manifests) == 1
    manifest = json.loads(manifests[0].read_text("utf-8"))
    assert manifest["crawl_id"] == crawl["records"][0]["crawl_id"]
    assert manifest["finish_reason"] == "finished"
    counts = manifest["counts"]
    assert counts["articles_written"] == len(crawl["records"]) == len(ARTICLES)
    assert counts["warc_files"] == len(crawl["warcs"])
    assert counts["uploads_pending"] == 0
    listed = {f["key"] for f in manifest["files"] if f["status"] == "stored"}
    on_disk = {p.relative_to(archive).as_posix() for p in crawl["warcs"]}
    on_disk |= {p.relative_to(archive).as_posix() for p in archive.glob("articles/*/*/*/*")}
    on_disk |= {p.relative_to(archive).as_posix() for p in archive.glob("warc/*/*/*/*.cdxj")}
    assert listed == on_disk
    assert manifest["skipped"].get("http_404", 0) >= 1
    assert manifest["software"]["trafilatura"]
    # Nothing is left behind in the spool.
    assert spool_leftovers(archive / ".spool") == []
    assert f"articles written: {len(ARTICLES)}" in crawl["result"].log


def test_nothing_but_loopback_is_contacted(crawl: dict[str, Any]) -> None:
    conns = crawl["result"].connections
    assert conns, "the audit hook logged no connection at all"
    for addr in conns:
        # Connections to loopback only, and no name lookup of any other host.
        assert addr.startswith(("('127.0.0.1'", "('::1'", "'/", "('dns', '127.0.0.1'")), addr


def test_on_demand_url_list(news_site: Any, tmp_path: Path) -> None:
    paths = sorted(ARTICLES)[:2]
    url_file = tmp_path / "urls.txt"
    url_file.write_text(
        "# articles to fetch\n" + "\n".join(news_site.base_url + p for p in paths) + "\n"
    )
    result = run_crawl(
        tmp_path, ["-a", f"urls={url_file}"], {"NEWSWARC_ARCHIVE_URI": str(tmp_path / "a")}
    )
    assert result.returncode == 0, result.log[-2000:]
    got = sorted(urlsplit(r["url"]).path for r in _records(tmp_path / "a"))
    assert got == paths  # no link following in URL mode
