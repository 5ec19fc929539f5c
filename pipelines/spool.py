"""Local spool files: written as ``.open``, published by fsync and rename, repaired after a kill."""

from __future__ import annotations

import fcntl
import logging
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipelines.cdxj import cdxj_key, index_warc, write_lines

logger = logging.getLogger(__name__)

OPEN_SUFFIX = ".open"
_READ = 1024 * 1024


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class ClosedFile:
    """A finished spool file waiting for upload; ``lock_fd`` keeps other processes off it."""

    path: Path
    key: str
    content_type: str
    lock_fd: int | None = None

    def release(self) -> None:
        """Drop the lock (after the upload, or when giving the file back to the spool)."""
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None


class GzipMembers:
    """A write target that makes every flush() write one whole gzip member (one per record).

    A member is built in memory and handed to the file in one write, so a failed write can be
    undone by cutting the file back (:meth:`SpoolFile.truncate`) and never leaves half a member.
    """

    def __init__(self, out: SpoolFile, level: int) -> None:
        self.out = out
        self.level = level
        self._z = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(self._z.compress(data))
        return len(data)

    def flush(self) -> None:
        self._parts.append(self._z.flush())
        member = b"".join(self._parts)
        self.discard()
        self.out.write(member)

    def discard(self) -> None:
        """Forget the member being built (after a failed write)."""
        self._parts = []
        self._z = zlib.compressobj(self.level, zlib.DEFLATED, zlib.MAX_WBITS + 16)


class SpoolFile:
    """A file under ``spool/KEY.open``, locked while it lives, renamed to ``spool/KEY`` on close.

    The file is created under a hidden name, locked, and only then linked as ``KEY.open``, so
    another process's :func:`recover` never sees it unlocked. Writes go straight to the OS (no
    user-space buffer): a killed process loses nothing it wrote, and a failed write can be cut
    back with :meth:`truncate`.
    """

    def __init__(self, spool: Path, key: str, content_type: str) -> None:
        self.key = key
        self.content_type = content_type
        self.final_path = spool / key
        self.path = self.final_path.with_name(self.final_path.name + OPEN_SUFFIX)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        hidden = self.path.with_name(f".{self.path.name}.{os.getpid()}.new")
        fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.link(hidden, self.path)  # fails rather than replace a leftover of the same name
        except BaseException:
            os.close(fd)
            os.unlink(hidden)
            raise
        os.unlink(hidden)
        self._fd = fd
        self.size = 0

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
            self.size += written
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        """Nothing to do: writes already went to the OS."""

    def truncate(self, offset: int) -> None:
        """Cut the file back to ``offset`` (the end of the last complete record)."""
        os.ftruncate(self._fd, offset)
        os.lseek(self._fd, offset, os.SEEK_SET)
        self.size = offset

    def abandon(self) -> None:
        """Remove the file (it holds no complete record) and drop its lock."""
        os.unlink(self.path)
        os.close(self._fd)

    def close(self) -> ClosedFile:
        """Fsync, give the file its final name and fsync the folder; keep the lock.

        Raises:
            FileExistsError: a file of the final name is already in the spool.

        """
        os.fsync(self._fd)
        os.link(self.path, self.final_path)
        os.unlink(self.path)
        _fsync_dir(self.final_path.parent)
        return ClosedFile(self.final_path, self.key, self.content_type, self._fd)


@dataclass(frozen=True)
class Member:
    """One complete gzip member of a file: its byte range and the start of its content."""

    offset: int
    length: int
    head: bytes
    tail: bytes


def iter_members(path: Path, head_size: int = 64) -> Iterator[Member]:
    """Yield the complete gzip members of ``path`` in order; stop at the first damaged one."""
    with path.open("rb") as fh:
        pos = 0  # file offset of the current member's start
        consumed = 0  # compressed bytes of the current member fed so far
        z = zlib.decompressobj(zlib.MAX_WBITS + 16)
        head = b""
        tail = b""
        pending = b""
        while True:
            data = pending or fh.read(_READ)
            pending = b""
            if not data:
                return
            try:
                out = z.decompress(data)
            except zlib.error:
                return
            if len(head) < head_size:
                head += out[: head_size - len(head)]
            if out:
                tail = out[-1:]
            if z.eof:
                used = len(data) - len(z.unused_data)
                length = consumed + used
                yield Member(pos, length, head, tail)
                pos += length
                consumed = 0
                pending = z.unused_data
                z = zlib.decompressobj(zlib.MAX_WBITS + 16)
                head = b""
                tail = b""
                if not pending:
                    continue
            else:
                consumed += len(data)


def is_warc_member(member: Member) -> bool:
    """Tell whether a member holds one WARC record."""
    return member.head.startswith(b"WARC/")


def is_jsonl_member(member: Member) -> bool:
    """Tell whether a member holds whole JSON lines."""
    return member.head.startswith(b"{") and member.tail == b"\n"


def valid_prefix(path: Path, valid: Callable[[Member], bool]) -> tuple[int, int]:
    """Return (records, bytes) of the longest run of valid complete members at the start."""
    count = end = 0
    for member in iter_members(path):
        if not valid(member):
            break
        count += 1
        end = member.offset + member.length
    return count, end


def lock_nowait(path: Path) -> int | None:
    """Lock ``path`` for this process; return the fd, or None if another process holds it."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    if os.fstat(fd).st_nlink == 0:  # published and removed while we waited
        os.close(fd)
        return None
    return fd


def content_type_for(key: str) -> str:
    """Return the object content type for an archive key."""
    if key.endswith(".warc.gz"):
        return "application/warc"
    if key.endswith(".jsonl.gz"):
        return "application/jsonl"
    if key.endswith(".json"):
        return "application/json"
    if key.endswith(".cdxj"):
        return "application/cdxj"
    return "application/octet-stream"


def validator_for(key: str) -> Callable[[Member], bool] | None:
    """Return the member check for a spool file kind, or None if it is not gzip-membered."""
    if key.endswith(".warc.gz"):
        return is_warc_member
    if key.endswith(".jsonl.gz"):
        return is_jsonl_member
    return None


def recover(spool: Path) -> list[ClosedFile]:
    """Repair leftover ``.open`` files of dead processes and return every file awaiting upload.

    A file still locked by a live process (another crawl sharing the spool) is left alone.
    An ``.open`` file is cut after its last complete record, so it is valid again; a file with
    no complete record is removed, since it held nothing that was archived. The files come back
    unlocked: :class:`~pipelines.uploader.Uploader` locks each one before storing it.
    """
    found: list[ClosedFile] = []
    if not spool.is_dir():
        return found
    for dirpath, _dirnames, filenames in os.walk(spool):
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if name.startswith("."):
                continue
            fd = lock_nowait(path)
            if fd is None:
                continue
            if name.endswith(OPEN_SUFFIX):
                final = path.with_name(name[: -len(OPEN_SUFFIX)])
                key = final.relative_to(spool).as_posix()
                valid = validator_for(key)
                if valid is None:
                    if key.endswith(".cdxj"):
                        # An index cut short: it is rebuilt from its WARC file below.
                        path.unlink()
                    else:
                        logger.warning("Leaving unknown spool file %s alone", path)
                    os.close(fd)
                    continue
                records, end = valid_prefix(path, valid)
                size = path.stat().st_size
                if records == 0:
                    logger.warning("Removing %s: no complete record in its %d bytes", path, size)
                    path.unlink()
                    os.close(fd)
                    continue
                if end < size:
                    logger.warning(
                        "Repairing %s: keeping %d complete records, cutting %d trailing bytes",
                        path,
                        records,
                        size - end,
                    )
                    os.truncate(fd, end)
                os.fsync(fd)
                os.link(path, final)
                os.unlink(path)
                _fsync_dir(final.parent)
                path = final
            # The lock is dropped here (thousands of leftovers would exhaust descriptors);
            # the uploader takes it again before it stores the file.
            os.close(fd)
            key = path.relative_to(spool).as_posix()
            found.append(ClosedFile(path, key, content_type_for(key)))
    keys = {c.key for c in found}
    for closed in list(found):
        if closed.key.endswith(".warc.gz") and cdxj_key(closed.key) not in keys:
            try:
                found.append(_index_file(spool, closed))
            except Exception as exc:  # the WARC still goes up; `newswarc index` can retry
                logger.error("Could not index recovered %s: %s", closed.path, exc)
    return found


def _index_file(spool: Path, warc: ClosedFile) -> ClosedFile:
    """Build the CDXJ index of a recovered WARC file in the spool."""
    index = SpoolFile(spool, cdxj_key(warc.key), "application/cdxj")
    with warc.path.open("rb") as fh:
        write_lines(index_warc(fh, warc.path.name), index)
    closed = index.close()
    closed.release()
    return closed
