"""``make demo``: serve the bundled demo news site, crawl it into ./archive, show the result."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipelines.reader import ArchiveReader

from .server import NewsSite

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    """Run the demo crawl and print what was archived and where."""
    archive = Path(os.environ.get("ARCHIVE_URI", ROOT / "archive"))
    with NewsSite() as site:
        print(f"Demo news site serving at {site.base_url}/", flush=True)
        env = {**os.environ, "SCRAPY_PROJECT": "demo", "ARCHIVE_URI": str(archive)}
        cmd = [str(Path(sys.executable).parent / "scrapy"), "crawl", "news"]
        cmd += ["-a", f"start_urls={site.base_url}/"]
        print("$ " + " ".join(cmd), flush=True)
        code = subprocess.call(cmd, cwd=ROOT, env=env)
    if code:
        print(f"crawl failed with exit code {code}", file=sys.stderr)
        return code
    print(f"\nArchive: {archive}")
    for kind in ("warc", "articles", "crawls"):
        for path in sorted((archive / kind).rglob("*")):
            if path.is_file():
                print(f"  {path.relative_to(archive)}  ({path.stat().st_size} bytes)")
    print("\nArticles archived (title, URL, WARC record):")
    last = None
    for record in ArchiveReader.open(str(archive)).articles():
        warc = record["warc"]
        print(f"  {record['title']}\n    {record['url']}")
        print(f"    {warc['filename']} offset {warc['offset']} length {warc['length']}")
        last = record
    if last:
        print("\nTry:")
        print(f"  .venv/bin/newswarc articles {archive} --site 127.0.0.1")
        print(f"  .venv/bin/newswarc capture {archive} {last['url']} --headers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
