"""Reading the archive at scale: bytes read by one URL lookup, and memory of streaming articles.

Builds, in a temporary folder, an archive of N captures over several days (WARC files written by
newswarc's own writer, with their CDXJ indexes, then `newswarc index`), looks one URL up and prints
the bytes it read next to the size of the indexes and WARCs; then writes 10 000 and 200 000
article records and prints the peak memory of `newswarc articles` over each (flat: it streams).

    .venv/bin/python bench/archive.py [--captures 100000] [--articles 10000,200000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.indexes import CountingReads, build_indexes, lookup  # noqa: E402
from pipelines.spool import ClosedFile  # noqa: E402
from pipelines.storage import FileStorage  # noqa: E402
from pipelines.warcfile import Exchange, WarcRoller  # noqa: E402

DAY = 86_400.0


def build_captures(root: Path, count: int, days: int = 10) -> tuple[FileStorage, str]:
    """Write ``count`` captures over ``days`` days; return the storage and one URL in it."""
    storage = FileStorage(root / "archive")
    start = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
    now = [start]

    def publish(closed: ClosedFile) -> None:
        storage.store_file(closed.path, closed.key, content_type=closed.content_type)
        closed.release()

    roller = WarcRoller(
        root / "spool",
        uri_for=storage.uri_for,
        publish=publish,
        max_size=64 * 2**20,
        max_age=DAY,
        clock=lambda: now[0],
    )
    rng = random.Random(1)
    probe = ""
    for n in range(count):
        now[0] = start + n * days * DAY / count
        url = f"https://news{rng.randrange(200)}.example/{rng.randrange(1000)}/story-{n}.html"
        probe = url if n == count // 2 else probe
        body = f"<html><body><h1>Story {n}</h1><p>{'text ' * 80}</p></body></html>".encode()
        roller.write(
            Exchange(
                url=url,
                method="GET",
                target=url.split(".example", 1)[1],
                request_headers=[("Host", url.split("/")[2])],
                status=200,
                response_headers=[("Content-Type", "text/html; charset=utf-8")],
                body=body,
                date=datetime.fromtimestamp(now[0], UTC),
            )
        )
    roller.close()
    return storage, probe


def write_articles(root: Path, count: int) -> Path:
    """Write ``count`` synthetic article records in batches of 1000; return the archive."""
    archive = root / f"articles-{count}"
    folder = archive / "articles/2026/11/29"
    folder.mkdir(parents=True)
    text = "\n".join(f"Paragraph {i} " + "word " * 60 for i in range(8))
    for batch in range(0, count, 1000):
        with (folder / f"c-{batch // 1000:05d}.jsonl.gz").open("wb") as out:
            for n in range(batch, min(batch + 1000, count)):
                record = {
                    "url": f"https://n.example/{n}",
                    "title": f"Story {n}",
                    "text": text,
                    "language": "en",
                    "fetched_at": "2026-11-29T12:00:00+00:00",
                }
                out.write(gzip.compress(json.dumps(record).encode() + b"\n", 1))
    return archive


def peak_memory_of_articles(archive: Path) -> float:
    """Run `newswarc articles` over ``archive``; return its peak memory in MB."""
    code = (
        "import os, resource, sys\n"
        "from pipelines.cli import main\n"
        "sys.stdout = open(os.devnull, 'w')\n"
        f"main(['articles', {str(archive)!r}])\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return int(proc.stderr.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=100_000)
    parser.add_argument("--articles", default="10000,200000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.monotonic()
        storage, url = build_captures(root, args.captures)
        build_indexes(storage)
        warc_bytes = sum(p.stat().st_size for p in root.glob("archive/warc/**/*.warc.gz"))
        index_bytes = sum(p.stat().st_size for p in root.glob("archive/indexes/*/*/*.cdxj"))
        reads = CountingReads()
        found = lookup(storage, url, reads=reads)
        took = time.monotonic() - started
        print(f"archive: {args.captures} captures over 10 days, built in {took:.0f} s")
        print(
            f"  WARC files: {warc_bytes / 2**20:.1f} MB; "
            f"merged day indexes: {index_bytes / 2**20:.1f} MB"
        )
        print(
            f"lookup of one URL: {len(found)} capture(s), {reads.bytes} bytes of index read "
            f"in {reads.requests} ranged reads ({reads.bytes / index_bytes:.4%} of the indexes)"
        )
        for count in (int(x) for x in args.articles.split(",")):
            archive = write_articles(root, count)
            peak = peak_memory_of_articles(archive)
            print(f"newswarc articles over {count:>7} records: peak memory {peak:.0f} MB")
        os.sync()


if __name__ == "__main__":
    main()
