from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

from pipelines.spool import GzipMembers, SpoolFile, iter_members, recover

KILLED_WRITER = """
import json, os, sys
from pathlib import Path
from pipelines.spool import GzipMembers, SpoolFile
f = SpoolFile(Path(sys.argv[1]), "articles/2026/11/29/c-00000.jsonl.gz", "application/jsonl")
gz = GzipMembers(f, 6)
for i in range(5):
    gz.write((json.dumps({"n": i, "pad": "x" * 5000}) + "\\n").encode())
    gz.flush()
    f.flush()
# A record cut short by the kill: compressed bytes written, member never finished.
gz.write(os.urandom(20000))
f.write(gz._z.compress(b"") + gz._z.flush(2))  # Z_SYNC_FLUSH-like partial data, no trailer
f.flush()
os._exit(9)
"""


def test_gzip_members_are_independent(tmp_path: Path) -> None:
    f = SpoolFile(tmp_path, "x/a.jsonl.gz", "application/jsonl")
    gz = GzipMembers(f, 6)
    offsets = []
    for i in range(3):
        offsets.append(f.tell())
        gz.write(f'{{"n": {i}}}\n'.encode())
        gz.flush()
    closed = f.close()
    assert (
        closed.path == tmp_path / "x/a.jsonl.gz" and not (tmp_path / "x/a.jsonl.gz.open").exists()
    )
    data = closed.path.read_bytes()
    members = list(iter_members(closed.path))
    assert [m.offset for m in members] == offsets
    # Each member decompresses alone: what (offset, length) readers rely on.
    assert (
        gzip.decompress(data[members[1].offset : members[1].offset + members[1].length])
        == b'{"n": 1}\n'
    )
    closed.release()


def test_killed_writer_file_is_repaired_to_last_complete_record(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(spool)], check=False)
    assert proc.returncode == 9
    left = spool / "articles/2026/11/29/c-00000.jsonl.gz.open"
    assert left.exists()
    before = left.stat().st_size
    found = recover(spool)
    assert [c.key for c in found] == ["articles/2026/11/29/c-00000.jsonl.gz"]
    repaired = found[0].path
    assert not left.exists() and repaired.stat().st_size < before
    # gzip -t passes and all five complete records survive.
    assert subprocess.run(["gzip", "-t", str(repaired)], check=False).returncode == 0
    lines = gzip.decompress(repaired.read_bytes()).decode().splitlines()
    assert [json.loads(line)["n"] for line in lines] == [0, 1, 2, 3, 4]
    for c in found:
        c.release()


def test_recover_skips_files_a_live_process_holds(tmp_path: Path) -> None:
    live = SpoolFile(tmp_path, "warc/2026/11/29/live.warc.gz", "application/warc")
    live.write(b"partial")
    live.flush()
    assert recover(tmp_path) == []
    assert (tmp_path / "warc/2026/11/29/live.warc.gz.open").exists()


def test_recover_removes_open_file_without_complete_record(tmp_path: Path) -> None:
    path = tmp_path / "warc/2026/11/29/empty.warc.gz.open"
    path.parent.mkdir(parents=True)
    path.write_bytes(os.urandom(100))
    assert recover(tmp_path) == []
    assert not path.exists()


def test_recover_returns_closed_files_left_behind(tmp_path: Path) -> None:
    path = tmp_path / "warc/2026/11/29/done.warc.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    found = recover(tmp_path)
    # The WARC, and the CDXJ index built for it since it had none.
    assert [(c.key, c.content_type) for c in found] == [
        ("warc/2026/11/29/done.warc.gz", "application/warc"),
        ("warc/2026/11/29/done.cdxj", "application/cdxj"),
    ]
