"""A pool of worker processes, recycled without deadlock, that notices dead and stalled ones."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.context import SpawnProcess

logger = logging.getLogger(__name__)

#: What a worker returns for one page: ("ok", fields), ("empty", None) or
#: ("error", (reason, message)), reason being a short slug such as an exception's class name.
Outcome = tuple[str, Any]
#: The function a worker runs on each page: ``work(body, url, content_type) -> Outcome``.
WorkFunction = Callable[[bytes, str, "str | None"], Outcome]

STRIKES = 2  # a page on which its worker dies or stalls this many times fails
START_FAILURES = 3  # workers in a row that die before they are ready: pages fail until one starts
JOIN_TIMEOUT = 5.0  # seconds a retiring worker gets to exit before it is killed
START_TIMEOUT = 60.0  # seconds a new worker may take to import and warm up (at least)


def _exit_with_parent(parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            # The crawl was killed (SIGKILL gives it no chance to stop us): do not linger.
            os._exit(1)


# Extracted once by each worker while it starts: trafilatura and its date and metadata
# helpers load much on first use (about 0.4 s of CPU), which the first real page would pay.
_WARM_UP_PAGES = (
    b"<html><head><title>Warm-up</title></head><body><p>Warm-up page.</p></body></html>",
    b'<html><head><title>Warm-up</title><meta name="author" content="A. Writer"></head><body>'
    b'<article><h1>Warm-up</h1><time datetime="2026-01-01">1 January 2026</time><p>A paragraph'
    b" of text for the extractor to find, long enough to be kept as an article's text.</p><p>"
    b"Another paragraph, so that the extractor runs its whole path once.</p></article></body>"
    b"</html>",
)


def warm_up_extractor() -> None:
    """Import trafilatura, build its options and extract two small pages before real ones."""
    from pipelines.extract import extract_article, extractor_options

    extractor_options()
    for page in _WARM_UP_PAGES:
        with contextlib.suppress(Exception):  # a warm-up, never a reason not to start
            extract_article(
                page, "http://warm-up.invalid/2026/01/01/a.html", content_type="text/html"
            )


def extract_page(body: bytes, url: str, content_type: str | None) -> Outcome:
    """Extract one page in a worker: ("ok", fields), ("empty", None) or ("error", (reason, msg))."""
    from pipelines.extract import extract_article

    try:
        fields = extract_article(body, url, content_type=content_type)
    except Exception as exc:  # a broken page must not kill the worker
        return _failure(exc)
    return ("ok", fields) if fields else ("empty", None)


def _failure(exc: BaseException) -> Outcome:
    return "error", (type(exc).__name__, f"{type(exc).__name__}: {exc}")


def _serve(
    conn: Connection, work: WorkFunction, warm_up: Callable[[], None] | None, parent: int
) -> None:
    """Warm up, say so, then answer one page per message until told to stop (a worker's main)."""
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    if warm_up is not None:
        warm_up()
    conn.send(None)  # ready
    while True:
        try:
            args = conn.recv()
        except EOFError:  # the pool is gone
            return
        if args is None:  # retired
            return
        try:
            outcome = work(*args)
        except Exception as exc:
            outcome = _failure(exc)
        try:
            conn.send(outcome)
        except Exception as exc:  # a result that does not pickle is the page's failure
            conn.send(_failure(exc))


@dataclass(eq=False)
class _Task:
    args: tuple[bytes, str, str | None]
    future: Future[Outcome] = field(default_factory=Future)
    started: bool = False
    strikes: int = 0

    @property
    def url(self) -> str:
        return self.args[1]


class _Worker:
    """One worker process, its pipe, and the page it holds (at most one at a time)."""

    def __init__(
        self, ctx: Any, work: WorkFunction, warm_up: Callable[[], None] | None, parent: int
    ) -> None:
        self.conn, child = ctx.Pipe()
        self.process: SpawnProcess = ctx.Process(
            target=_serve, args=(child, work, warm_up, parent), name="newswarc-worker", daemon=True
        )
        self.process.start()
        child.close()
        self.ready = False
        self.task: _Task | None = None
        self.since = time.monotonic()  # when it was started, retired, or sent its page
        self.done = 0

    def kill(self) -> None:
        if self.process.exitcode is None:
            self.process.kill()


class WorkerPool:
    """A pool of extraction processes that recycles them without deadlock and watches for hangs.

    Each worker has a pipe of its own and holds one page at a time, so the pool knows which page
    every worker is on. A worker that has done ``max_tasks`` pages is told to exit once it is idle
    and a fresh one takes its place; no task queue is shared with exiting processes (the cause of
    the ``ProcessPoolExecutor(max_tasks_per_child=...)`` deadlock, CPython gh-115634). A worker
    that gives no answer for ``stall_timeout`` seconds, on a page or while starting, is killed and
    replaced; a worker that dies is replaced. Its page is queued again first in line, and fails
    (reason ``timeout`` or ``worker_died``) the second time.

    Pages are submitted from any thread; one thread of the pool talks to the workers. Workers are
    spawned (forking a process that runs a reactor and threads is unsafe) and exit by themselves
    when the process that started them is gone. This module imports no Scrapy: a worker imports
    only what its work function needs.

    Args:
        work: Function run on each page in a worker; it must be importable (picklable by name).
        warm_up: Function a worker runs once before its first page.
        workers: Number of worker processes.
        max_tasks: Pages a worker does before it is replaced; 0 for never.
        stall_timeout: Seconds without an answer after which a worker counts as stalled.

    """

    def __init__(
        self,
        work: WorkFunction = extract_page,
        *,
        warm_up: Callable[[], None] | None = warm_up_extractor,
        workers: int,
        max_tasks: int,
        stall_timeout: float,
    ) -> None:
        # spawn, not fork: forking a process that runs a reactor and threads is unsafe.
        self._ctx = multiprocessing.get_context("spawn")
        self._work = work
        self._warm_up = warm_up
        self._size = max(1, workers)
        self._max_tasks = max_tasks
        self._stall = stall_timeout
        self._lock = threading.Lock()
        self._queue: deque[_Task] = deque()
        self._closing = False  # no more pages taken
        self._closed = False  # close() was called
        self._events: Counter[str] = Counter()
        self._workers: list[_Worker] = []
        self._retiring: list[_Worker] = []
        self._start_failures = 0
        self._spawn_after = 0.0
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._thread = threading.Thread(target=self._run, name="newswarc-extract-pool", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Whether the pool takes pages (not closed, its thread running)."""
        return not self._closing and self._thread.is_alive()

    def submit(self, body: bytes, url: str, content_type: str | None) -> Future[Outcome]:
        """Queue one page; return the future of its :data:`Outcome`."""
        task = _Task((body, url, content_type))
        with self._lock:
            if not self.alive:
                raise RuntimeError("the extraction pool is closed")
            self._queue.append(task)
        self._wake()
        return task.future

    def take_events(self) -> dict[str, int]:
        """Return and reset the counts of what happened to workers (``stalled``, ``died``)."""
        with self._lock:
            events = dict(self._events)
            self._events.clear()
        return events

    def pids(self) -> list[int]:
        """Process ids of the current workers (for tests and diagnostics)."""
        return [w.process.pid for w in list(self._workers) if w.process.pid is not None]

    def close(self) -> None:
        """Finish the pages already submitted, stop the workers and wait for them to exit."""
        with self._lock:
            if self._closed:
                return
            self._closing = self._closed = True
        self._wake()
        self._thread.join()
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)

    def _wake(self) -> None:
        # Full: a wake-up is pending anyway. Closed: the pool is gone.
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    # --- the pool's thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while self._step():
                pass
        except BaseException:
            logger.exception("Extraction pool failed; its pages fail with reason pool_failed")
            with self._lock:
                self._closing = True
                tasks = list(self._queue) + [w.task for w in self._workers if w.task]
                self._queue.clear()
            for task in tasks:
                self._finish(task, ("error", ("pool_failed", "the extraction pool failed")))
        finally:
            self._stop_workers()

    def _step(self) -> bool:
        now = time.monotonic()
        with self._lock:
            wanted = not self._closing or bool(self._queue)
        if wanted and now >= self._spawn_after:
            while len(self._workers) < self._size:
                self._workers.append(_Worker(self._ctx, self._work, self._warm_up, os.getpid()))
        self._dispatch(now)
        with self._lock:
            idle = not self._queue and not any(w.task for w in self._workers)
            if self._closing and idle:
                return False
        handles: list[Any] = [self._wake_r]
        handles += [w.conn for w in self._workers]
        handles += [w.process.sentinel for w in self._workers + self._retiring]
        ready = set(wait(handles, timeout=min(1.0, self._stall / 4)))
        if self._wake_r in ready:
            try:
                while os.read(self._wake_r, 4096):
                    pass
            except BlockingIOError:
                pass
        now = time.monotonic()
        for worker in list(self._workers):
            if worker.conn in ready:
                self._receive(worker, now)
        for worker in list(self._workers):
            if worker.process.sentinel in ready or worker.process.exitcode is not None:
                self._died(worker, now)
        for worker in list(self._retiring):
            if worker.process.exitcode is not None:
                worker.process.join()
                worker.conn.close()
                self._retiring.remove(worker)
            elif now - worker.since > JOIN_TIMEOUT:
                worker.kill()
        start_timeout = max(self._stall, START_TIMEOUT)
        for worker in list(self._workers):
            limit = self._stall if worker.ready else start_timeout
            if (worker.task is not None or not worker.ready) and now - worker.since > limit:
                self._stalled(worker, now)
        return True

    def _next_task(self) -> _Task | None:
        while True:
            with self._lock:
                if not self._queue:
                    return None
                task = self._queue.popleft()
            if task.started or task.future.set_running_or_notify_cancel():
                task.started = True
                return task
            # else its crawl gave up waiting for it

    def _dispatch(self, now: float) -> None:
        for worker in self._workers:
            if not worker.ready or worker.task is not None:
                continue
            task = self._next_task()
            if task is None:
                break
            try:
                worker.conn.send(task.args)
            except OSError:  # died just now: the page goes back, the death is seen next
                with self._lock:
                    self._queue.appendleft(task)
                continue
            worker.task, worker.since = task, now
        if self._start_failures >= START_FAILURES and not any(w.ready for w in self._workers):
            # No worker can start (a broken install, no memory): fail pages rather than hang.
            with self._lock:
                tasks = list(self._queue)
                self._queue.clear()
            for task in tasks:
                if task.started or task.future.set_running_or_notify_cancel():
                    message = "no extraction worker could start"
                    task.future.set_result(("error", ("worker_start", message)))

    def _receive(self, worker: _Worker, now: float) -> None:
        try:
            outcome = worker.conn.recv()
        except (EOFError, OSError):
            return  # the worker died: _died deals with it
        worker.since = now
        if not worker.ready:
            worker.ready = True
            self._start_failures = 0
            return
        task, worker.task = worker.task, None
        worker.done += 1
        if task is not None:
            self._finish(task, outcome)
        if self._max_tasks and worker.done >= self._max_tasks:
            self._retire(worker, now)

    def _retire(self, worker: _Worker, now: float) -> None:
        self._workers.remove(worker)
        with contextlib.suppress(OSError):
            worker.conn.send(None)
        worker.since = now
        self._retiring.append(worker)

    def _died(self, worker: _Worker, now: float) -> None:
        worker.process.join()
        code = worker.process.exitcode
        self._workers.remove(worker)
        worker.conn.close()
        with self._lock:
            self._events["died"] += 1
        if not worker.ready:
            self._start_failures += 1
            self._spawn_after = now + min(30.0, 0.5 * 2**self._start_failures)
            logger.error("Extraction worker exited with code %s before it was ready", code)
        task, worker.task = worker.task, None
        if task is None:
            if worker.ready:
                logger.error("Idle extraction worker exited with code %s; replacing it", code)
            return
        logger.error("Extraction worker died (exit code %s) on %s; replacing it", code, task.url)
        self._strike(task, ("worker_died", f"the extraction worker died {STRIKES} times"))

    def _stalled(self, worker: _Worker, now: float) -> None:
        task = worker.task
        with self._lock:
            self._events["stalled"] += 1
        if task is None:
            logger.error(
                "Extraction worker did not start within %.0f s; killing it", now - worker.since
            )
            self._start_failures += 1
        else:
            logger.error(
                "Extraction stalled: no result for %.0f s on %s; killing its worker",
                now - worker.since,
                task.url,
            )
        worker.task = None
        worker.kill()
        self._workers.remove(worker)
        worker.since = now
        self._retiring.append(worker)
        if task is not None:
            self._strike(task, ("timeout", f"no result within {self._stall:g} s, {STRIKES} times"))

    def _strike(self, task: _Task, failure: tuple[str, str]) -> None:
        task.strikes += 1
        if task.strikes >= STRIKES:
            self._finish(task, ("error", failure))
        else:
            with self._lock:
                self._queue.appendleft(task)

    def _finish(self, task: _Task, outcome: Outcome) -> None:
        if not task.future.done():
            task.future.set_result(outcome)

    def _stop_workers(self) -> None:
        for worker in list(self._workers):
            if worker.task is None and worker.ready:
                self._retire(worker, time.monotonic())
            else:
                worker.kill()
                self._workers.remove(worker)
                self._retiring.append(worker)
        for worker in self._retiring:
            worker.process.join(JOIN_TIMEOUT)
            worker.kill()
            worker.process.join()
            worker.conn.close()
        self._retiring.clear()
