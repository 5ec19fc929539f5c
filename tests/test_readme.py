"""The README's consumer examples run as written, against a real archive."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

README = (Path(__file__).parent.parent / "README.md").read_text("utf-8")


def block(language: str, after: str) -> str:
    start = README.index(after)
    match = re.search(rf"```{language}\n(.*?)```", README[start:], re.S)
    assert match, f"no {language} block after {after!r}"
    return match.group(1)


def test_python_api_example(local_crawl: dict[str, Any]) -> None:
    site = local_crawl["site"]
    url = site.base_url + "/ar/2026/11/28/123456.html"
    code = (
        block("python", "### Python, without Scrapy")
        .replace("s3://my-bucket/news", str(local_crawl["archive"]))
        .replace('since="2026-11-28"', 'since="2000-01-01"')
        .replace("https://www.example.com/news/2026/11/28/story.html", url)
        .replace("https://www.example.com/", site.base_url + "/")
        .replace("example.com", "127.0.0.1")
    )
    namespace: dict[str, Any] = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["capture"].status == 200
    assert namespace["same"].url == namespace["record"]["url"]
    assert len(namespace["every"]) >= 10
    assert "قمة إقليمية" in printed.getvalue()


def test_duckdb_example(local_crawl: dict[str, Any]) -> None:
    import duckdb

    query = block("sql", "### warcio, pywb, DuckDB").replace("ARCHIVE", str(local_crawl["archive"]))
    rows = duckdb.sql(query).fetchall()
    assert [(lang, n) for lang, n, _ in rows] == [("ar", 5), ("en", 3)]
    assert all(words > 100 for _, _, words in rows)
