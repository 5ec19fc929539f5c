"""The ``newswarc`` command: offline extraction and reading an archive back."""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipelines.storage import StorageError


def _print(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")


def _read_page(path: Path) -> bytes:
    data = path.read_bytes()
    # Saved pages often come gzipped (*.html.gz, as in public extraction benchmarks).
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _extract_one(path: Path, url: str | None) -> dict[str, Any]:
    from pipelines.extract import extract_article

    fields = extract_article(_read_page(path), url)
    if fields is None:
        raise ValueError("no article text found")
    return {"url": url or fields.get("canonical_url"), **fields}


def cmd_extract(args: argparse.Namespace) -> int:
    """Extract one saved page, or every page of a list, in this process."""
    if args.list:
        failures = 0
        base = Path(args.list).parent
        with open(args.list, encoding="utf-8") as lines:
            for line in lines:
                if not line.strip() or line.startswith("#"):
                    continue
                path, _, url = line.rstrip("\r\n").partition("\t")
                page = Path(path)
                if not page.is_absolute() and not page.exists() and (base / page).exists():
                    page = base / page  # relative to the list file rather than the working folder
                try:
                    record = _extract_one(page, url.strip() or None)
                except (OSError, ValueError) as exc:
                    failures += 1
                    _print({"source": path, "url": url.strip() or None, "error": str(exc)})
                    continue
                _print({"source": path, **record})
        return 1 if failures else 0
    if not args.file:
        print("newswarc extract: give FILE or --list LIST", file=sys.stderr)
        return 2
    try:
        record = _extract_one(Path(args.file), args.url)
    except (OSError, ValueError) as exc:
        print(f"newswarc extract: {args.file}: {exc}", file=sys.stderr)
        return 1
    _print(record)
    return 0


def cmd_articles(args: argparse.Namespace) -> int:
    """Print the archive's article records as JSON lines."""
    from pipelines.reader import ArchiveReader

    reader = ArchiveReader.open(args.archive)
    records = reader.articles(
        since=args.since,
        until=args.until,
        site=args.site,
        url=args.url,
        language=args.language,
        text=args.grep,
    )
    if args.format == "parquet":
        from pipelines.export import write_parquet

        if not args.output:
            print("newswarc articles: --format parquet needs -o FILE", file=sys.stderr)
            return 2
        try:
            count = write_parquet(records, args.output)
        except RuntimeError as exc:
            print(f"newswarc articles: {exc}", file=sys.stderr)
            return 2
        print(f"# {count} records written to {args.output}", file=sys.stderr)
        return 0
    target = (
        open(args.output, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed by with
        if args.output
        else contextlib.nullcontext(sys.stdout)
    )
    with target as out:
        if args.format == "csv":
            from pipelines.export import write_csv

            write_csv(records, out)
        else:
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


def cmd_reextract(args: argparse.Namespace) -> int:
    """Extract articles again from archived captures and print the new records."""
    from pipelines.reextract import reextract
    from pipelines.storage import storage_from_uri

    records = reextract(
        storage_from_uri(args.archive),
        since=args.since,
        until=args.until,
        site=args.site,
        min_chars=args.min_chars,
    )
    count = 0
    target = (
        open(args.output, "w", encoding="utf-8")  # noqa: SIM115 - closed by with
        if args.output
        else contextlib.nullcontext(sys.stdout)
    )
    with target as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    print(f"# {count} article records", file=sys.stderr)
    return 0


def cmd_crawls(args: argparse.Namespace) -> int:
    """List the archive's crawls with their counts, so an empty run shows from a broken one."""
    from pipelines.reader import ArchiveReader

    def row(name: str, reason: str, c: dict[str, Any]) -> str:
        return (
            f"{name}  {reason:<10} "
            f"discovered {c.get('discovered', 0):>5}  fetched {c.get('pages_fetched', 0):>5}  "
            f"new {c.get('articles_new', 0):>4}  updated {c.get('articles_updated', 0):>4}  "
            f"unchanged {c.get('articles_unchanged', 0):>4}  errors {c.get('errors', 0):>3}  "
            f"pending {c.get('uploads_pending', 0)}"
        )

    # A distributed run is one crawl of many workers (crawler/distributed.py): one line for
    # the run, summed, then a row per worker's crawl.
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    order: list[tuple[str, str] | dict[str, Any]] = []
    for manifest in ArchiveReader.open(args.archive).crawls():
        if args.json:
            _print(manifest)
            continue
        run = manifest.get("distributed") or {}
        if not run.get("run"):
            order.append(manifest)
            continue
        key = (str(run["run"]), str(run.get("instance") or manifest["crawl_id"]))
        if key not in runs:
            runs[key] = []
            order.append(key)
        runs[key].append(manifest)
    for entry in order:
        if isinstance(entry, dict):
            print(row(entry["crawl_id"], entry.get("finish_reason", "?"), entry["counts"]))
            continue
        members = runs[entry]
        total: dict[str, Any] = {}
        for m in members:
            for k, v in m.get("counts", {}).items():
                total[k] = total.get(k, 0) + v
        reasons = sorted({m.get("finish_reason", "?") for m in members})
        print(row(f"run {entry[0]} {entry[1]}", ",".join(reasons), total))
        print(f"  {len(members)} workers")
        for m in members:
            who = m["distributed"].get("worker", "?")
            print("  " + row(f"{m['crawl_id']} {who}", m.get("finish_reason", "?"), m["counts"]))
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    """Build missing CDXJ indexes and the merged index of each day."""
    from pipelines.indexes import build_indexes
    from pipelines.storage import storage_from_uri

    report = build_indexes(storage_from_uri(args.archive))
    print(
        f"indexed {len(report.built)} WARC files ({report.lines} lines), "
        f"merged {len(report.merged)} day indexes"
    )
    for key in report.built + report.merged:
        print(f"  {key}")
    return 0


def cmd_captures(args: argparse.Namespace) -> int:
    """List every capture of a URL (or URL prefix) from the indexes."""
    from pipelines.reader import ArchiveReader

    reader = ArchiveReader.open(args.archive)
    lines = reader.captures(args.url, prefix=args.prefix)
    for line in lines:
        print(line.to_text())
    print(
        f"# {len(lines)} captures; {reader.reads.bytes} index bytes read "
        f"in {reader.reads.requests} ranged reads",
        file=sys.stderr,
    )
    return 0 if lines else 1


def cmd_capture(args: argparse.Namespace) -> int:
    """Print the archived HTTP response of a URL."""
    from pipelines.reader import ArchiveReader, CaptureNotFound

    reader = ArchiveReader.open(args.archive)
    try:
        capture = reader.capture(args.url, at=args.at)
    except CaptureNotFound as exc:
        print(f"newswarc capture: {exc}", file=sys.stderr)
        return 1
    out = sys.stdout.buffer
    if args.headers or not args.body_only:
        out.write(f"{capture.status_line}\r\n".encode("latin-1"))
        for name, value in capture.headers:
            out.write(f"{name}: {value}\r\n".encode("latin-1", "replace"))
        out.write(b"\r\n")
    if not args.headers:
        out.write(capture.raw if args.raw else capture.body)
    out.flush()
    print(
        f"# {capture.url} captured {capture.date}, {capture.pointer['filename']} "
        f"offset {capture.pointer['offset']} length {capture.pointer['length']}",
        file=sys.stderr,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``newswarc`` command."""
    parser = argparse.ArgumentParser(
        prog="newswarc", description="News crawler and web archive tools."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("extract", help="extract article records from saved pages")
    p.add_argument("file", nargs="?", help="a saved HTML page")
    p.add_argument("--url", help="the page's URL (default: its canonical link)")
    p.add_argument("--list", help="a file of lines PATH<TAB>URL (URL optional)")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("articles", help="print article records as JSON lines")
    p.add_argument("archive", help="archive URI: folder, file:// or s3://bucket/prefix")
    p.add_argument("--since", help="fetched at or after (YYYY-MM-DD, ISO 8601 or 14 digits)")
    p.add_argument("--until", help="fetched at or before (a bare date includes the day)")
    p.add_argument("--site", help="only this domain and its subdomains")
    p.add_argument("--url", help="only records of this URL")
    p.add_argument("--language", help="only records in this language (ISO 639 code)")
    p.add_argument("--grep", help="only records whose title or text contains this (any case)")
    p.add_argument("--format", choices=["jsonl", "csv", "parquet"], default="jsonl")
    p.add_argument("-o", "--output", help="write to this file (required for parquet)")
    p.set_defaults(func=cmd_articles)

    p = sub.add_parser("reextract", help="extract archived captures again, without refetching")
    p.add_argument("archive", help="archive URI")
    p.add_argument("--since", help="captures at or after (YYYY-MM-DD, ISO 8601 or 14 digits)")
    p.add_argument("--until", help="captures at or before")
    p.add_argument("--site", help="only this domain and its subdomains")
    p.add_argument("--min-chars", type=int, default=400, help="shorter pages are not articles")
    p.add_argument("-o", "--output", help="write the JSON lines to this file")
    p.set_defaults(func=cmd_reextract)

    p = sub.add_parser("crawls", help="list the crawls of an archive with their counts")
    p.add_argument("archive", help="archive URI")
    p.add_argument("--json", action="store_true", help="the whole manifests, as JSON lines")
    p.set_defaults(func=cmd_crawls)

    p = sub.add_parser("index", help="build missing CDXJ indexes and per-day merged indexes")
    p.add_argument("archive", help="archive URI")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("captures", help="list every capture of a URL from the indexes")
    p.add_argument("archive", help="archive URI")
    p.add_argument("url", help="the URL (or, with --prefix, the start of URLs)")
    p.add_argument("--prefix", action="store_true", help="every URL under this one")
    p.set_defaults(func=cmd_captures)

    from crawler import addsite, enqueue, schedule
    from pipelines import quality, staterebuild, verify, wacz

    verify.register(sub)
    wacz.register(sub)
    schedule.register(sub)
    quality.register(sub)
    addsite.register(sub)
    staterebuild.register(sub)
    enqueue.register(sub)

    p = sub.add_parser("capture", help="print the archived HTTP response of a URL")
    p.add_argument("archive", help="archive URI")
    p.add_argument("url", help="the URL, as fetched")
    p.add_argument("--at", help="the capture closest to this time (default: the latest)")
    p.add_argument("--raw", action="store_true", help="body as sent (still gzip etc.)")
    p.add_argument("--headers", action="store_true", help="status line and headers only")
    p.add_argument("--body-only", action="store_true", help="body without headers")
    p.set_defaults(func=cmd_capture)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``newswarc`` command."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except StorageError as exc:
        print(f"newswarc {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
