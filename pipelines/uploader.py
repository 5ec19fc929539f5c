"""Background upload of closed spool files, retried with back-off until they are stored."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from pipelines.spool import ClosedFile, lock_nowait
from pipelines.storage import Storage

logger = logging.getLogger(__name__)


@dataclass
class UploadState:
    """What happened to one file: where it went, how many tries it took, and the last error."""

    key: str
    uri: str
    size: int
    status: str = "pending"  # pending | stored | elsewhere (another process took it)
    attempts: int = 0
    error: str | None = None
    kind: str = field(default="")


@dataclass
class _Entry:
    closed: ClosedFile
    state: UploadState
    due: float = 0.0
    delay: float = 0.0


class Uploader:
    """One worker thread that stores closed files, off Scrapy's reactor.

    A failed upload is retried with exponential back-off per file (``min_backoff`` doubling up to
    ``max_backoff``) while other files go ahead; a file stays in the spool until the storage
    confirms it, so an unreachable endpoint only delays files, and :meth:`close` reports what is
    still pending.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        min_backoff: float = 1.0,
        max_backoff: float = 60.0,
        on_stored: Callable[[UploadState], None] | None = None,
    ) -> None:
        self.storage = storage
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.on_stored = on_stored
        self.files: dict[str, UploadState] = {}
        self.counts: Counter[str] = Counter()
        self._queue: list[_Entry] = []
        self._cond = threading.Condition()
        self._closing = False
        self._deadline: float | None = None
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="newswarc-uploader", daemon=True)
        self._thread.start()

    def submit(self, closed: ClosedFile) -> UploadState:
        """Queue ``closed`` for upload and return its state record (updated in place)."""
        try:
            size = closed.path.stat().st_size
        except FileNotFoundError:
            size = 0
        kind = "cdxj" if closed.key.endswith(".cdxj") else closed.key.split("/", 1)[0]
        state = UploadState(closed.key, self.storage.uri_for(closed.key), size, kind=kind)
        with self._cond:
            self.files[closed.key] = state
            self._queue.append(_Entry(closed, state, due=0.0, delay=self.min_backoff))
            self._cond.notify_all()
        return state

    @property
    def pending(self) -> int:
        """Files queued or in flight."""
        with self._cond:
            return len(self._queue) + int(self._busy)

    def _next(self) -> _Entry | None:
        """Wait for the next file that is due; None when closing leaves nothing to do."""
        with self._cond:
            while True:
                now = time.monotonic()
                if self._closing and (
                    not self._queue
                    or (self._deadline is not None and now >= self._deadline)
                    or (
                        self._deadline is not None
                        and min(e.due for e in self._queue) > self._deadline
                    )
                ):
                    return None
                due = [e for e in self._queue if e.due <= now]
                if due:
                    entry = min(due, key=lambda e: e.due)
                    self._queue.remove(entry)
                    self._busy = True
                    return entry
                wait = min((e.due for e in self._queue), default=now + 3600) - now
                if self._deadline is not None:
                    wait = min(wait, self._deadline - now)
                self._cond.wait(timeout=max(wait, 0.01))

    def _run(self) -> None:
        while True:
            entry = self._next()
            if entry is None:
                break
            done = self._upload(entry)
            with self._cond:
                self._busy = False
                if not done:
                    entry.due = time.monotonic() + entry.delay
                    entry.delay = min(entry.delay * 2, self.max_backoff)
                    self._queue.append(entry)
                self._cond.notify_all()
        with self._cond:
            # Files left pending stay in the spool, closed and valid, for the next run.
            for entry in self._queue:
                entry.closed.release()
            self._cond.notify_all()

    def _upload(self, entry: _Entry) -> bool:
        closed, state = entry.closed, entry.state
        if closed.lock_fd is None:
            closed.lock_fd = lock_nowait(closed.path)
            if closed.lock_fd is None:
                # Gone, or another crawl sharing the spool is on it: it is theirs to store.
                state.status = "stored" if self._stored(closed.key) else "elsewhere"
                return True
        state.attempts += 1
        try:
            self.storage.store_file(closed.path, closed.key, content_type=closed.content_type)
        except FileNotFoundError as exc:
            closed.release()
            state.status = "stored" if self._stored(closed.key) else "elsewhere"
            state.error = None if state.status == "stored" else f"source vanished: {exc}"
            return True
        except Exception as exc:  # any failure keeps the file and retries
            state.error = f"{type(exc).__name__}: {exc}"
            with self._cond:
                self.counts["failed_attempts"] += 1
            logger.warning(
                "Upload of %s to %s failed (attempt %d), retrying in %.0f s: %s",
                closed.path,
                state.uri,
                state.attempts,
                entry.delay,
                state.error,
            )
            return False
        closed.release()
        state.status = "stored"
        state.error = None
        with self._cond:
            self.counts["stored"] += 1
            self.counts["bytes"] += state.size
        logger.info("Stored %s (%d bytes)", state.uri, state.size)
        if self.on_stored is not None:
            self.on_stored(state)
        return True

    def _stored(self, key: str) -> bool:
        try:
            return self.storage.exists(key)
        except Exception:
            return False

    def close(self, timeout: float) -> list[UploadState]:
        """Finish queued uploads within ``timeout`` seconds; return the states left pending.

        Pending files stay in the spool, closed and intact; the next run uploads them.
        """
        with self._cond:
            self._closing = True
            self._deadline = time.monotonic() + timeout
            self._cond.notify_all()
        self._thread.join(timeout + 1)
        if self._thread.is_alive():
            # Stuck inside one storage call: its file is still in the spool, locked by this
            # process until it exits.
            logger.error("Upload thread still busy after %.0f s; leaving it to exit", timeout)
        return [s for s in self.files.values() if s.status == "pending"]
