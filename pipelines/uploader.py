"""Background upload of closed spool files, retried with back-off until they are stored."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from pipelines.spool import ClosedFile
from pipelines.storage import Storage

logger = logging.getLogger(__name__)


@dataclass
class UploadState:
    """What happened to one file: where it went, how many tries it took, and the last error."""

    key: str
    uri: str
    size: int
    status: str = "pending"  # pending | stored
    attempts: int = 0
    error: str | None = None
    kind: str = field(default="")


class Uploader:
    """One worker thread that stores closed files in order, off Scrapy's reactor.

    A failed upload is retried with exponential back-off (``min_backoff`` doubling up to
    ``max_backoff``); the file stays in the spool until the storage confirms it, so an
    unreachable endpoint only delays files, and :meth:`close` reports what is still pending.
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
        self._queue: deque[ClosedFile] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._deadline: float | None = None
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="newswarc-uploader", daemon=True)
        self._thread.start()

    def submit(self, closed: ClosedFile) -> UploadState:
        """Queue ``closed`` for upload and return its state record (updated in place)."""
        state = UploadState(
            closed.key,
            self.storage.uri_for(closed.key),
            closed.path.stat().st_size,
            kind=closed.key.split("/", 1)[0],
        )
        with self._cond:
            self.files[closed.key] = state
            self._queue.append(closed)
            self._cond.notify_all()
        return state

    @property
    def pending(self) -> int:
        """Files queued or in flight."""
        with self._cond:
            return len(self._queue) + int(self._busy)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                closed = self._queue[0]
                self._busy = True
            stored = self._upload(closed)
            with self._cond:
                self._busy = False
                if not stored:
                    # Out of time: every file left stays in the spool for the next run.
                    for left in self._queue:
                        left.release()
                    self._queue.clear()
                    self._cond.notify_all()
                    return
                self._queue.popleft()
                self._cond.notify_all()

    def _upload(self, closed: ClosedFile) -> bool:
        state = self.files[closed.key]
        delay = self.min_backoff
        while True:
            state.attempts += 1
            try:
                self.storage.store_file(closed.path, closed.key, content_type=closed.content_type)
            except Exception as exc:  # any failure keeps the file and retries
                state.error = f"{type(exc).__name__}: {exc}"
                with self._cond:
                    self.counts["failed_attempts"] += 1
                    deadline = self._deadline
                stop = deadline is not None and time.monotonic() + delay > deadline
                logger.warning(
                    "Upload of %s to %s failed (attempt %d), retrying in %.0f s: %s",
                    closed.path,
                    state.uri,
                    state.attempts,
                    delay,
                    state.error,
                )
                if stop:
                    return False
                with self._cond:
                    self._cond.wait(timeout=delay)
                delay = min(delay * 2, self.max_backoff)
                continue
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
            # Stuck inside one storage call: its file is still in the spool and locked by us;
            # the lock goes with this process.
            logger.error("Upload thread still busy after %.0f s; leaving it to exit", timeout)
        return [s for s in self.files.values() if s.status != "stored"]
