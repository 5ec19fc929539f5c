"""Checks every archive must pass, whatever the storage: used by the end-to-end tests."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from warcio.archiveiterator import ArchiveIterator

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "pipelines/schema/article.schema.json").read_text("utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
WARCIO = str(Path(sys.executable).parent / "warcio")


def schema_errors(record: dict[str, Any]) -> list[str]:
    """Return the JSON Schema violations of one article record."""
    return [f"{list(e.path)}: {e.message}" for e in VALIDATOR.iter_errors(record)]


def check_warc_file(path: Path) -> None:
    """Assert ``warcio check`` and ``gzip -t`` both pass (the first misses a cut last member)."""
    check = subprocess.run(
        [WARCIO, "check", str(path)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert subprocess.run(["gzip", "-t", str(path)], check=False).returncode == 0


def responses(path: Path) -> list[dict[str, Any]]:
    """Return every response record of a WARC file with its headers and raw payload."""
    out = []
    with path.open("rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type == "response":
                out.append(
                    {
                        "url": rec.rec_headers.get_header("WARC-Target-URI"),
                        "id": rec.rec_headers.get_header("WARC-Record-ID"),
                        "status": int(rec.http_headers.get_statuscode()),
                        "headers": list(rec.http_headers.headers),
                        "raw": rec.raw_stream.read(),
                    }
                )
    return out


def requests(path: Path) -> list[dict[str, Any]]:
    """Return every request record of a WARC file."""
    out = []
    with path.open("rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type == "request":
                out.append(
                    {
                        "url": rec.rec_headers.get_header("WARC-Target-URI"),
                        "line": f"{rec.http_headers.protocol} {rec.http_headers.statusline}",
                        "headers": list(rec.http_headers.headers),
                        "concurrent": rec.rec_headers.get_header("WARC-Concurrent-To"),
                    }
                )
    return out


def resolve_pointer(data: bytes, pointer: dict[str, Any]) -> dict[str, Any]:
    """Read exactly one response record at the pointer's offset and length."""
    chunk = data[pointer["offset"] : pointer["offset"] + pointer["length"]]
    assert len(chunk) == pointer["length"]
    gzip.decompress(chunk)  # one whole gzip member
    it = ArchiveIterator(io.BytesIO(chunk))
    rec = next(it)
    out = {
        "type": rec.rec_type,
        "url": rec.rec_headers.get_header("WARC-Target-URI"),
        "id": rec.rec_headers.get_header("WARC-Record-ID"),
        "digest": rec.rec_headers.get_header("WARC-Payload-Digest"),
        "raw": rec.raw_stream.read(),
    }
    assert next(it, None) is None
    return out


def spool_leftovers(spool: Path) -> list[Path]:
    """Return the files left in a spool, not counting its owner marker and the crawl state."""
    return [
        p
        for p in spool.rglob("*")
        if p.is_file() and not p.name.startswith((".archive", ".crawlstate"))
    ]
