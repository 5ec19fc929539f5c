"""Retry-After honoured within a cap, and downloads given up on named with a reason."""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Request, Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import error as tx_error
from twisted.internet import task

from crawler.limits import is_robots_txt
from crawler.problems import ProblemLog

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

_RETRY_AFTER_STATUSES = (429, 503)


def retry_after_seconds(
    value: bytes | str | None, date: bytes | str | None = None, now: datetime | None = None
) -> float | None:
    """Return the delay a ``Retry-After`` value asks for, or None if it is missing or invalid.

    The value is delay-seconds or an HTTP-date (RFC 9110, 10.2.3). A date is read against the
    response's own ``Date`` header when there is one, so a server's clock skew does not matter.
    """
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    base = now or datetime.now(UTC)
    if date:
        with contextlib.suppress(TypeError, ValueError, IndexError):
            base = parsedate_to_datetime(
                date.decode("latin-1") if isinstance(date, bytes) else date
            )
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if base.tzinfo is None:
        base = base.replace(tzinfo=UTC)
    return max(0.0, (when - base).total_seconds())


class RetryAfterMiddleware:
    """Wait as a 429 or 503 response's ``Retry-After`` asks before Scrapy retries it.

    Runs above ``RetryMiddleware`` (550), which retries at once. A delay up to
    ``NEWSWARC_RETRY_AFTER_MAX`` seconds is waited (the request holds its place among
    ``CONCURRENT_REQUESTS`` meanwhile); a longer one is not waited for: the URL is given up,
    with reason ``retry_after_over_cap``, since retrying earlier than asked is impolite and
    likely refused again. Without ``Retry-After``, Scrapy's own retry applies.
    """

    def __init__(
        self, problems: ProblemLog, stats: StatsCollector, cap: float, retry_times: int
    ) -> None:
        self.problems = problems
        self.stats = stats
        self.cap = cap
        self.retry_times = retry_times

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        settings = crawler.settings
        assert crawler.stats is not None
        return cls(
            ProblemLog.of(crawler),
            crawler.stats,
            settings.getfloat("NEWSWARC_RETRY_AFTER_MAX"),
            settings.getint("RETRY_TIMES"),
        )

    async def process_response(self, request: Request, response: Response) -> Response:
        if response.status not in _RETRY_AFTER_STATUSES or request.meta.get("dont_retry"):
            return response
        delay = retry_after_seconds(
            response.headers.get(b"Retry-After"), response.headers.get(b"Date")
        )
        if delay is None:
            return response
        retries = request.meta.get("retry_times", 0)
        if retries >= request.meta.get("max_retry_times", self.retry_times):
            return response  # RetryMiddleware gives up: nothing to wait for
        if delay > self.cap:
            request.meta["dont_retry"] = True
            self.problems.record(
                "retry_after_over_cap",
                response.url,
                f"{response.status} asks for {delay:g} s, limit {self.cap:g} s",
            )
            return response
        if delay > 0:
            logger.info(
                "newswarc: %s answered %d, Retry-After %g s: waiting before the retry",
                response.url,
                response.status,
                delay,
            )
            self.stats.inc_value("newswarc/retry_after/waits")
            self.stats.inc_value("newswarc/retry_after/seconds", round(delay))
            from twisted.internet import reactor

            await maybe_deferred_to_future(task.deferLater(reactor, delay))
        return response


#: Download errors named by reason once retries are spent; any other exception keeps its traceback.
_FAILURES: tuple[tuple[tuple[type[BaseException], ...], str], ...] = (
    ((DownloadTimeoutError, tx_error.TimeoutError), "timeout"),
    ((ResponseDataLossError,), "dataloss"),
    ((DownloadFailedError,), "invalid_response"),
    (
        (
            DownloadConnectionRefusedError,
            CannotResolveHostError,
            tx_error.ConnectError,
            tx_error.ConnectionLost,
            tx_error.ConnectionDone,
        ),
        "connection_failed",
    ),
    ((DownloadCancelledError,), "cancelled"),
)


class GiveUpMiddleware:
    """Name each download given up on (after ``RetryMiddleware``, 550) with its reason.

    Scrapy logs such failures as ERROR with a traceback of its internals and counts them by
    exception class only. Here a known network or protocol failure becomes one WARNING line, a
    ``newswarc/problems/REASON`` counter and a manifest entry naming the URL; a failed
    robots.txt is ``robots_txt_unavailable`` (the site is then crawled as if it had none, as
    Scrapy does). Other exceptions pass untouched.
    """

    def __init__(self, problems: ProblemLog) -> None:
        self.problems = problems

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> GiveUpMiddleware:
        return cls(ProblemLog.of(crawler))

    def process_exception(self, request: Request, exception: Exception) -> None:
        if isinstance(exception, IgnoreRequest):
            return
        reason = next((r for kinds, r in _FAILURES if isinstance(exception, kinds)), None)
        if reason is None:
            return
        detail = f"{type(exception).__name__}: {exception}"[:300]
        if is_robots_txt(request) and request.meta.get("dont_obey_robotstxt"):
            reason = "robots_txt_unavailable"
        self.problems.record(reason, request.url, detail)
        raise IgnoreRequest(f"newswarc: {reason}") from exception
