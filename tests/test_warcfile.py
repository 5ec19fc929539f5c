from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from pipelines.spool import ClosedFile
from pipelines.warcfile import Exchange, WarcRoller, response_headers_as_sent

WARCIO = str(Path(sys.executable).parent / "warcio")


def exchange(n: int, body: bytes = b"", **kw: object) -> Exchange:
    body = body or gzip.compress(f"<html><p>page {n}</p></html>".encode() * 200, mtime=0)
    return Exchange(
        url=f"http://news.test/a/{n}?x=1&y=2",
        method="GET",
        target=f"/a/{n}?x=1&y=2",
        request_headers=[
            ("User-Agent", "newswarc-test"),
            ("Accept-Encoding", "gzip"),
            ("Host", "news.test"),
        ],
        status=200,
        response_headers=[
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Encoding", "gzip"),
            ("Set-Cookie", "a=1; Path=/"),
            ("Set-Cookie", "b=2; Path=/"),
            ("Content-Length", str(len(body))),
        ],
        body=body,
        date=datetime(2026, 11, 29, 12, 0, n % 60, 123456, tzinfo=UTC),
        ip="127.0.0.1",
        **kw,  # type: ignore[arg-type]
    )


def roller(
    tmp: Path, published: list[ClosedFile], indexes: list[ClosedFile] | None = None, **kw: object
) -> WarcRoller:
    """A roller whose WARC files go to ``published`` and CDXJ indexes to ``indexes``."""

    sink = indexes if indexes is not None else []

    def publish(closed: ClosedFile) -> None:
        (published if closed.key.endswith(".warc.gz") else sink).append(closed)

    return WarcRoller(tmp, uri_for=lambda k: f"file:///arch/{k}", publish=publish, **kw)  # type: ignore[arg-type]


def test_records_are_faithful_and_pointers_resolve(tmp_path: Path) -> None:
    published: list[ClosedFile] = []
    w = roller(tmp_path, published, info={"isPartOf": "crawl-1"})
    pointers = [w.write(exchange(i)) for i in range(3)]
    w.close()
    assert len(published) == 1
    path = published[0].path
    data = path.read_bytes()
    assert subprocess.run([WARCIO, "check", str(path)], check=False).returncode == 0
    assert subprocess.run(["gzip", "-t", str(path)], check=False).returncode == 0
    types = [r.rec_type for r in ArchiveIterator(io.BytesIO(data))]
    assert types == ["warcinfo"] + ["response", "request"] * 3
    for i, p in enumerate(pointers):
        chunk = data[p.offset : p.offset + p.length]
        records = ArchiveIterator(io.BytesIO(chunk))
        rec = next(records)
        assert rec.rec_type == "response"
        assert rec.rec_headers.get_header("WARC-Record-ID") == p.record_id
        assert rec.rec_headers.get_header("WARC-Target-URI") == f"http://news.test/a/{i}?x=1&y=2"
        assert rec.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"
        assert rec.rec_headers.get_header("WARC-Payload-Digest") == p.payload_digest
        assert rec.http_headers.get_statuscode() == "200"
        assert [v for k, v in rec.http_headers.headers if k == "Set-Cookie"] == [
            "a=1; Path=/",
            "b=2; Path=/",
        ]
        assert rec.raw_stream.read() == exchange(i).body  # still content-encoded
        assert next(records, None) is None  # exactly one record: the response
    # The request follows its response, concurrent to it, with the query string on its line.
    recs = ArchiveIterator(io.BytesIO(data))
    info = next(recs).raw_stream.read().decode()
    assert "isPartOf: crawl-1" in info
    next(recs)
    req = next(recs)
    assert req.rec_headers.get_header("WARC-Concurrent-To") == pointers[0].record_id
    assert req.http_headers.protocol == "GET"
    assert req.http_headers.statusline.startswith("/a/0?x=1&y=2 HTTP/1.1")


def test_transfer_encoding_and_wrong_length_are_kept_aside() -> None:
    fixed = response_headers_as_sent(
        [("Transfer-Encoding", "chunked"), ("Content-Length", "999"), ("X", "y")], 10
    )
    assert fixed == [
        ("X-Crawler-Transfer-Encoding", "chunked"),
        ("X-Crawler-Content-Length", "999"),
        ("Content-Length", "10"),
        ("X", "y"),
    ]
    assert response_headers_as_sent([("Content-Length", "10")], 10) == [("Content-Length", "10")]


def test_non_ascii_header_bytes_survive(tmp_path: Path) -> None:
    published: list[ClosedFile] = []
    w = roller(tmp_path, published)
    ex = exchange(1)
    ex.response_headers.append(("X-Title", "caf\xe9"))  # latin-1 byte 0xE9 on the wire
    p = w.write(ex)
    w.close()
    chunk = published[0].path.read_bytes()[p.offset : p.offset + p.length]
    assert b"X-Title: caf\xe9\r\n" in gzip.decompress(chunk)


def test_rolls_over_by_size_between_captures(tmp_path: Path) -> None:
    published: list[ClosedFile] = []
    w = roller(tmp_path, published, max_size=60_000)
    import os

    pointers = [w.write(exchange(i, body=os.urandom(25_000))) for i in range(6)]
    w.close()
    assert len(published) >= 3
    names = [c.path.name for c in published]
    assert len(set(names)) == len(names)
    for c in published:
        assert c.path.stat().st_size <= 60_000 + 30_000  # one capture may overshoot
        assert subprocess.run([WARCIO, "check", str(c.path)], check=False).returncode == 0
        first = next(iter(ArchiveIterator(c.path.open("rb"))))
        assert first.rec_type == "warcinfo"
    # Every capture's response and request share a file.
    for c in published:
        types = [r.rec_type for r in ArchiveIterator(c.path.open("rb"))]
        assert types.count("response") == types.count("request")
    assert {p.filename for p in pointers} == set(names)


def test_rolls_over_by_age(tmp_path: Path) -> None:
    now = [1000.0]
    published: list[ClosedFile] = []
    w = roller(tmp_path, published, max_age=60, clock=lambda: now[0])
    w.write(exchange(1))
    w.roll_if_stale()
    assert published == []
    now[0] += 61
    w.roll_if_stale()
    assert len(published) == 1
    w.write(exchange(2))
    w.close()
    assert len(published) == 2


def test_file_name_and_key_follow_the_convention(tmp_path: Path) -> None:
    published: list[ClosedFile] = []
    w = roller(tmp_path, published, prefix="NEWS", clock=lambda: 1796040000.0)
    p = w.write(exchange(1))
    w.close()
    import re

    assert re.fullmatch(r"NEWS-20261130\d{6}-00000-[A-Za-z0-9.-]+\.\d+\.warc\.gz", p.filename)
    assert published[0].key == f"warc/2026/11/30/{p.filename}"
    assert p.uri == f"file:///arch/warc/2026/11/30/{p.filename}"
    assert "~" not in p.filename


def test_warc_1_1_dates_have_microseconds(tmp_path: Path) -> None:
    published: list[ClosedFile] = []
    w = roller(tmp_path, published, warc_version="1.1")
    p = w.write(exchange(1))
    w.close()
    assert p.date == "2026-11-29T12:00:01.123456Z"
    assert published[0].path.read_bytes()[:0] == b""
    first = next(iter(ArchiveIterator(published[0].path.open("rb"))))
    assert first.rec_headers.protocol == "WARC/1.1"


DISK_FULL = """
import os, resource, signal, sys
from datetime import UTC, datetime
from pathlib import Path
from pipelines.warcfile import Exchange, WarcRoller
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
published = []
w = WarcRoller(Path(sys.argv[1]), uri_for=str, publish=published.append, max_size=10**9)
ok = failed = 0
for n in range(40):
    ex = Exchange(url=f"http://t/{n}", method="GET", target=f"/{n}",
                  request_headers=[("Host", "t")], status=200, response_headers=[],
                  body=os.urandom(15_000), date=datetime.now(UTC))
    try:
        w.write(ex)
        ok += 1
    except OSError:
        failed += 1
w.close()
print(ok, failed, published[0].path)
"""


def test_a_failed_write_leaves_the_file_valid(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", DISK_FULL, str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    ok, failed, path = proc.stdout.split()
    assert int(ok) > 0 and int(failed) > 0
    assert subprocess.run(["gzip", "-t", path], check=False).returncode == 0
    assert subprocess.run([WARCIO, "check", path], check=False).returncode == 0
    with Path(path).open("rb") as fh:
        types = [r.rec_type for r in ArchiveIterator(fh)]
    assert types.count("response") == types.count("request") == int(ok)


def test_each_file_gets_its_cdxj_index(tmp_path: Path) -> None:
    from pipelines.cdxj import IndexLine, index_warc

    published: list[ClosedFile] = []
    indexes: list[ClosedFile] = []
    w = roller(tmp_path, published, indexes, max_size=50_000)
    pointers = [w.write(exchange(i, body=os.urandom(20_000))) for i in range(5)]
    w.close()
    assert len(indexes) == len(published) >= 2
    by_name = {p.filename: [] for p in pointers}
    for p in pointers:
        by_name[p.filename].append(p)
    for warc, index in zip(published, indexes, strict=True):
        assert index.key == warc.key.removesuffix(".warc.gz") + ".cdxj"
        lines = [IndexLine.parse(t) for t in index.path.read_text().splitlines()]
        assert lines == sorted(lines)
        # The live index equals one rebuilt from the file, and every line resolves.
        with warc.path.open("rb") as fh:
            assert sorted(index_warc(fh, warc.path.name)) == lines
        expected = {(p.offset, p.length) for p in by_name[warc.path.name]}
        assert {(int(x.data["offset"]), int(x.data["length"])) for x in lines} == expected
        assert all(x.key.startswith("test,news)/a/") and x.data["status"] == "200" for x in lines)
        assert all(x.data["mime"] == "text/html" for x in lines)


def test_a_cut_body_is_marked_truncated_on_its_response_only(tmp_path: Path) -> None:
    published: list[ClosedFile] = []
    w = roller(tmp_path, published)
    whole = gzip.compress(bytes(range(256)) * 2 + os.urandom(4000), mtime=0)
    cut = exchange(1, whole[:300], truncated="length")
    cut.response_headers = [
        (k, str(len(whole)) if k == "Content-Length" else v) for k, v in cut.response_headers
    ]
    w.write(cut)
    w.write(exchange(2))
    w.close()
    path = published[0].path
    assert subprocess.run([WARCIO, "check", str(path)], check=False).returncode == 0
    seen = []
    with path.open("rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type in ("response", "request"):
                seen.append((rec.rec_type, rec.rec_headers.get_header("WARC-Truncated")))
                if rec.rec_type == "response" and rec.rec_headers.get_header("WARC-Truncated"):
                    assert rec.raw_stream.read() == whole[:300]
                    assert rec.http_headers.get_header("Content-Length") == "300"
                    assert rec.http_headers.get_header("X-Crawler-Content-Length") == str(
                        len(whole)
                    )
    assert seen == [
        ("response", "length"),
        ("request", None),
        ("response", None),
        ("request", None),
    ]


def test_revisit_fields_stay_off_the_request_record(tmp_path: Path) -> None:
    from pipelines.warcfile import RevisitOf

    published: list[ClosedFile] = []
    w = roller(tmp_path, published)
    first = w.write(exchange(1))
    w.write(
        exchange(
            1,
            revisit=RevisitOf(first.record_id, first.uri, first.date, first.payload_digest),
        )
    )
    w.close()
    with published[0].path.open("rb") as fh:
        requests = [r.rec_headers for r in ArchiveIterator(fh) if r.rec_type == "request"]
    assert len(requests) == 2
    for headers in requests:
        assert headers.get_header("WARC-Truncated") is None
        assert headers.get_header("WARC-Refers-To") is None
        assert headers.get_header("WARC-Concurrent-To")
