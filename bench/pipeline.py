"""Crawl-to-archive throughput and memory, against plain trafilatura on the same pages.

Serves N ~80 KB article pages on 127.0.0.1, crawls them end to end (`scrapy crawl news`: fetch,
WARC capture, extraction in worker processes, article JSON, delivery to a local archive) and prints
pages per second next to `trafilatura.extract`'s single-core pages per second on the same pages,
measured in the same run, plus the crawl's peak memory (all its processes) at two crawl sizes.

Two corpora: `fixtures` (the default) grows the handwritten fixture pages, real-world markup, to
~80 KB with scripts, icons and footer links; `generated` is the test site's synthetic pages, whose
simple structure makes trafilatura about four times cheaper than on real pages.

    .venv/bin/python bench/pipeline.py [--corpus fixtures|generated] [--pages 3000] [--small 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus import CorpusSite, fixture_pages, grow  # noqa: E402
from tests.crawlrun import crawl_env, read_jsonl_gz  # noqa: E402
from tests.site import NewsSite  # noqa: E402
from tests.site.generated import GeneratedPages  # noqa: E402


def sample_pages(corpus: str, count: int) -> list[tuple[str, bytes]]:
    """Return (URL, body) of the first ``count`` article pages a crawl of ``corpus`` fetches."""
    base = "http://127.0.0.1:8000"
    if corpus == "generated":
        gen = GeneratedPages(count, base)
        paths = [p for p in gen.paths() if "/index-" not in p][:count]
        return [(base + p, gen.get(p) or b"") for p in paths]
    pages = fixture_pages()
    return [
        (f"{base}/real/{n:06d}.html", grow(pages[n % len(pages)], n, base))
        for n in range(1, count + 1)
    ]


def one_core(corpus: str, count: int) -> tuple[float, float]:
    """Return pages/s on one core of plain `trafilatura.extract` and of newswarc's extraction."""
    import trafilatura

    from pipelines.extract import extract_article

    pages = sample_pages(corpus, count)
    rates = []

    def plain(body: bytes, url: str) -> object:
        return trafilatura.extract(body, url=url, with_metadata=True)

    for extract in (plain, extract_article):
        extract(pages[0][1], pages[0][0])  # warm-up
        start = time.process_time()
        for url, body in pages:
            extract(body, url)
        rates.append(len(pages) / (time.process_time() - start))
    return rates[0], rates[1]


def _tree_rss(pid: int) -> int:
    """Return the resident memory of a process and all its descendants, in bytes."""
    total = 0
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        children.setdefault(ppid, []).append(int(entry))
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
        stack.extend(children.get(p, []))
    return total


def serve(corpus: str, pages: int) -> Any:
    """Return the site serving ``corpus`` (a context manager with ``base_url``)."""
    if corpus == "generated":
        return NewsSite(generated=pages, record=False)
    return CorpusSite(pages)


def crawl(corpus: str, pages: int) -> dict[str, Any]:
    """Crawl ``pages`` articles of ``corpus``; return pages/s, articles and peak memory."""
    start_page = "/gen/index-1.html" if corpus == "generated" else "/real/index-1.html"
    with serve(corpus, pages) as site, tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp, "archive")
        cmd = [str(Path(sys.executable).parent / "scrapy"), "crawl", "news"]
        cmd += ["-a", f"start_urls={site.base_url}{start_page}"]
        for key, value in {
            "NEWSWARC_ARCHIVE_URI": archive,
            "DEPTH_LIMIT": 0,
            "NEWSWARC_EXTRACT_WORKERS": 0,  # one per core, as in production
            "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
            "LOG_LEVEL": "WARNING",
        }.items():
            cmd += ["-s", f"{key}={value}"]
        env = crawl_env(Path(tmp))
        peak = 0
        start = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=tmp, env=env, stderr=subprocess.PIPE, text=True)
        err: list[str] = []
        reader = threading.Thread(
            target=lambda: err.append(proc.stderr.read() if proc.stderr else "")
        )
        reader.start()
        while proc.poll() is None:
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.2)
        elapsed = time.monotonic() - start
        reader.join()
        if proc.returncode:
            raise SystemExit(f"crawl failed:\n{''.join(err)[-3000:]}")
        articles = sum(len(read_jsonl_gz(p)) for p in archive.glob("articles/*/*/*/*.jsonl.gz"))
        (manifest,) = [json.loads(p.read_text()) for p in archive.glob("crawls/*.json")]
        return {
            "errors": manifest["errors"],
            "fetched": manifest["counts"]["pages_fetched"],
            "pages_per_s": pages / elapsed,
            "pages": pages,
            "articles": articles,
            "peak_mb": peak / 2**20,
            "s": elapsed,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=["fixtures", "generated"], default="fixtures")
    parser.add_argument("--pages", type=int, default=3000, help="pages in the main run")
    parser.add_argument(
        "--small", type=int, default=1000, help="pages in the memory comparison run"
    )
    parser.add_argument(
        "--baseline", type=int, default=200, help="pages for the trafilatura baseline"
    )
    args = parser.parse_args()

    print(f"cores: {os.cpu_count()}, corpus: {args.corpus}")
    base, ours = one_core(args.corpus, args.baseline)
    print(
        f"trafilatura.extract, one core:   {base:7.1f} pages/s  ({args.baseline} pages, CPU time)"
    )
    print(f"newswarc extraction, one core:   {ours:7.1f} pages/s  (related-link cleaning included)")
    small = crawl(args.corpus, args.small)
    big = crawl(args.corpus, args.pages)
    for run in (small, big):
        print(
            f"newswarc crawl, {int(run['pages']):5d} pages:    {run['pages_per_s']:7.1f} pages/s  "
            f"({run['s']:.0f} s wall, {int(run['articles'])} articles, "
            f"peak memory {run['peak_mb']:.0f} MB over all processes)"
        )
        errors = ", ".join(f"{k} {v}" for k, v in sorted(run["errors"].items())) or "none"
        print(f"    {run['fetched']} responses, errors: {errors}")
    print(
        f"throughput ratio (crawl / one-core trafilatura.extract): {big['pages_per_s'] / base:.2f}x"
        "  (target >= 1.5x)"
    )
    print(
        f"peak memory ratio ({args.pages} / {args.small} pages): "
        f"{big['peak_mb'] / small['peak_mb']:.2f}  (flat is 1.0)"
    )


if __name__ == "__main__":
    main()
