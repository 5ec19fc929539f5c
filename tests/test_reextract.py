from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from pipelines.reader import ArchiveReader
from pipelines.reextract import reextract
from pipelines.storage import FileStorage
from tests.archivecheck import schema_errors

NEWSWARC = str(Path(sys.executable).parent / "newswarc")


def test_reextract_gives_the_same_articles_without_refetching(local_crawl: dict[str, Any]) -> None:
    archive = local_crawl["archive"]
    requests_before = len(local_crawl["site"].requests)
    original = {r["url"]: r for r in ArchiveReader.open(str(archive)).articles()}
    again = {r["url"]: r for r in reextract(FileStorage(archive))}
    assert len(local_crawl["site"].requests) == requests_before  # nothing fetched
    assert set(again) == set(original)
    for url, record in again.items():
        assert schema_errors(record) == []
        old = original[url]
        assert record["text_sha1"] == old["text_sha1"]
        assert {k: record["warc"][k] for k in ("filename", "offset", "length", "record_id")} == {
            k: old["warc"][k] for k in ("filename", "offset", "length", "record_id")
        }
        assert record["crawl_id"].startswith("reextract-")


def test_reextract_command_filters_by_site_and_day(
    local_crawl: dict[str, Any], tmp_path: Path
) -> None:
    archive = str(local_crawl["archive"])
    out = tmp_path / "again.jsonl"
    proc = subprocess.run(
        [NEWSWARC, "reextract", archive, "--site", "127.0.0.1", "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and "# 8 article records" in proc.stderr
    assert len([json.loads(x) for x in out.read_text().splitlines()]) == 8
    none = subprocess.run(
        [NEWSWARC, "reextract", archive, "--until", "2000-01-01"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert none.stdout == "" and "# 0 article records" in none.stderr
