from __future__ import annotations

import time
from pathlib import Path

from pipelines.spool import SpoolFile
from pipelines.storage import FileStorage
from pipelines.uploader import Uploader


def closed_file(spool: Path, key: str, data: bytes):  # type: ignore[no-untyped-def]
    f = SpoolFile(spool, key, "application/warc")
    f.write(data)
    return f.close()


def test_uploads_in_background_and_removes_local_copy(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "archive")
    up = Uploader(storage, min_backoff=0.05)
    c = closed_file(tmp_path / "spool", "warc/a.warc.gz", b"abc")
    state = up.submit(c)
    assert up.close(timeout=10) == []
    assert state.status == "stored" and state.attempts == 1
    assert (tmp_path / "archive/warc/a.warc.gz").read_bytes() == b"abc"
    assert not c.path.exists()


def test_unavailable_storage_is_retried_until_it_comes_back(tmp_path: Path) -> None:
    # The archive root is a plain file, so every store fails, until the file goes away.
    blocker = tmp_path / "archive"
    blocker.write_text("in the way")
    storage = FileStorage(blocker / "inner")
    up = Uploader(storage, min_backoff=0.05, max_backoff=0.2)
    c = closed_file(tmp_path / "spool", "warc/b.warc.gz", b"payload")
    state = up.submit(c)
    deadline = time.monotonic() + 10
    while state.attempts < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state.status == "pending" and state.attempts >= 3 and state.error
    assert c.path.exists()  # nothing lost while the store is down
    blocker.unlink()
    assert up.close(timeout=10) == []
    assert state.status == "stored"
    assert (blocker / "inner/warc/b.warc.gz").read_bytes() == b"payload"


def test_close_timeout_leaves_pending_files_in_spool(tmp_path: Path) -> None:
    blocker = tmp_path / "archive"
    blocker.write_text("in the way")
    up = Uploader(FileStorage(blocker / "inner"), min_backoff=0.05, max_backoff=0.1)
    spool = tmp_path / "spool"
    files = [closed_file(spool, f"warc/{n}.warc.gz", b"x") for n in "cde"]
    for f in files:
        up.submit(f)
    pending = up.close(timeout=0.5)
    assert sorted(p.key for p in pending) == ["warc/c.warc.gz", "warc/d.warc.gz", "warc/e.warc.gz"]
    assert all(f.path.exists() for f in files)
    # Locks are released, so the next run's recovery can take the files.
    from pipelines.spool import recover

    found = recover(spool)
    warcs = sorted(c.key for c in found if c.key.endswith(".warc.gz"))
    assert warcs == ["warc/c.warc.gz", "warc/d.warc.gz", "warc/e.warc.gz"]


def test_a_file_that_keeps_failing_does_not_hold_up_the_others(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "archive")
    up = Uploader(storage, min_backoff=0.05, max_backoff=0.1)
    spool = tmp_path / "spool"
    bad = closed_file(spool, "warc/bad.warc.gz", b"x")
    bad.key = "../outside/bad.warc.gz"  # refused by the storage, every time
    good = closed_file(spool, "warc/good.warc.gz", b"y")
    bad_state = up.submit(bad)
    good_state = up.submit(good)
    deadline = time.monotonic() + 10
    while good_state.status != "stored" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert good_state.status == "stored"
    assert bad_state.status == "pending" and bad_state.attempts >= 1
    pending = up.close(timeout=0.3)
    assert [p.key for p in pending] == ["../outside/bad.warc.gz"]
    assert bad.path.exists()


def test_a_file_another_process_took_is_not_retried_forever(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "archive")
    up = Uploader(storage, min_backoff=0.05)
    c = closed_file(tmp_path / "spool", "warc/gone.warc.gz", b"z")
    c.release()
    c.path.unlink()  # e.g. a concurrent recovery uploaded and removed it
    state = up.submit(c)
    assert up.close(timeout=5) == []
    assert state.status == "elsewhere" and state.attempts == 0
