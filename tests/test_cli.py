from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.site import load_expected

NEWSWARC = str(Path(sys.executable).parent / "newswarc")
PAGES = Path(__file__).parent / "fixtures/site/pages"
EXPECTED = load_expected()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NEWSWARC, *args], capture_output=True, text=True, check=False)


def test_extract_one_saved_page() -> None:
    path = "/ar/2026/11/26/123377.html"
    proc = run("extract", str(PAGES / path.lstrip("/")), "--url", "https://news.example" + path)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert record["url"] == "https://news.example" + path
    assert record["language"] == "ar"
    for headline in EXPECTED[path]["related_headlines"]:
        assert headline not in record["text"]
    assert EXPECTED[path]["paragraphs"][0] in record["text"]


def test_extract_list_prints_one_line_per_page(tmp_path: Path) -> None:
    articles = [p for p, e in EXPECTED.items() if not p.startswith("_") and e["kind"] == "article"]
    lines = [f"{PAGES / p.lstrip('/')}\thttps://news.example{p}" for p in articles]
    lines.append(str(PAGES / "about.html"))  # no URL: the page's canonical link is used
    lines.append(str(tmp_path / "missing.html"))
    listing = tmp_path / "list.tsv"
    listing.write_text("\n".join(lines) + "\n")
    proc = run("extract", "--list", str(listing))
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == len(lines)
    assert [o["source"] for o in out] == [line.split("\t")[0] for line in lines]
    assert all("text" in o for o in out[: len(articles)])
    assert "error" in out[-1] and proc.returncode == 1  # a missing file is reported, not fatal


def test_articles_and_capture_commands(local_crawl: dict[str, Any]) -> None:
    archive = str(local_crawl["archive"])
    proc = run("articles", archive, "--site", "127.0.0.1")
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0 and len(records) == 8
    url = next(r["url"] for r in records if r["url"].endswith("123290.html"))
    head = subprocess.run(
        [NEWSWARC, "capture", archive, url, "--headers"], capture_output=True, check=False
    )
    assert head.returncode == 0 and head.stdout.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"charset=windows-1256\r\n" in head.stdout and head.stdout.endswith(b"\r\n\r\n")
    body = subprocess.run(
        [NEWSWARC, "capture", archive, url, "--body-only"], capture_output=True, check=False
    )
    assert body.stdout == local_crawl["site"].body("/ar/2026/11/24/123290.html")
    missing = run("capture", archive, url + "?nope")
    assert missing.returncode == 1 and "no capture" in missing.stderr
    bad = run("articles", "ftp://nowhere/x")
    assert bad.returncode == 2 and "unsupported archive URI scheme" in bad.stderr


def test_extract_reads_gzipped_pages_and_list_relative_paths(tmp_path: Path) -> None:
    import gzip

    source = PAGES / "ar/2026/11/28/123456.html"
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages/a.html.gz").write_bytes(gzip.compress(source.read_bytes()))
    one = run("extract", str(tmp_path / "pages/a.html.gz"), "--url", "https://n.example/a")
    assert one.returncode == 0 and json.loads(one.stdout)["language"] == "ar"
    listing = tmp_path / "list.tsv"
    listing.write_text("pages/a.html.gz\thttps://n.example/a\r\n")  # relative to the list file
    proc = subprocess.run(
        [NEWSWARC, "extract", "--list", str(listing)],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    out = json.loads(proc.stdout)
    assert proc.returncode == 0 and out["source"] == "pages/a.html.gz" and out["text"]
    assert out["url"] == "https://n.example/a"


def test_articles_filters_and_formats(local_crawl: dict[str, Any], tmp_path: Path) -> None:
    import csv
    import io

    import pyarrow.parquet as pq

    archive = str(local_crawl["archive"])
    arabic = run("articles", archive, "--language", "ar")
    ar_records = [json.loads(line) for line in arabic.stdout.splitlines()]
    assert ar_records and all(r["language"] == "ar" for r in ar_records)
    assert len(ar_records) == len(
        [p for p, e in EXPECTED.items() if e.get("kind") == "article" and e["language"] == "ar"]
    )
    hit = run("articles", archive, "--grep", "أفريكوم")
    assert [
        json.loads(x)["url"].endswith("/ar/2026/11/26/123377.html") for x in hit.stdout.splitlines()
    ] == [True]
    as_csv = run("articles", archive, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(rows) == 8 and all(r["warc_filename"].endswith(".warc.gz") for r in rows)
    assert {r["url"] for r in rows} == {
        json.loads(x)["url"] for x in run("articles", archive).stdout.splitlines()
    }
    out = tmp_path / "a.parquet"
    pq_run = run("articles", archive, "--format", "parquet", "-o", str(out))
    assert pq_run.returncode == 0
    table = pq.read_table(out)
    assert table.num_rows == 8 and table.schema.field("authors").type.value_type == "string"
    assert sorted(table.column("url").to_pylist()) == sorted(r["url"] for r in rows)
    assert run("articles", archive, "--format", "parquet").returncode == 2  # needs -o
