"""The crawl's problem list: every hostile or broken response logged, counted and named by URL."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

#: Stats prefix of the per-reason counters.
STATS_PREFIX = "newswarc/problems/"

#: Every reason, and what it means (the README's table is built from the same words).
REASONS = {
    "too_large": "body above DOWNLOAD_MAXSIZE on the wire: cut there (WARC-Truncated: length)",
    "too_slow": "download longer than NEWSWARC_DOWNLOAD_TIME_LIMIT: cut (WARC-Truncated: time)",
    "dataloss": "connection closed before the announced end (WARC-Truncated: disconnect)",
    "decompression_bomb": "body decodes to more than DOWNLOAD_MAXSIZE",
    "truncated_encoding": "gzip/deflate/brotli/zstd stream ends early: the page is cut",
    "corrupt_encoding": "gzip/deflate/brotli/zstd stream does not decode",
    "redirect_loop": "redirect back to a URL of the same chain",
    "too_many_redirects": "redirect chain longer than REDIRECT_MAX_TIMES",
    "binary_as_html": "binary data served as text",
    "not_html": "a PDF, image or other non-HTML page",
    "unknown_charset": "charset label no codec knows",
    "charset_mismatch": "bytes not valid in the declared charset",
    "malformed_html": "NUL bytes in the markup",
    "retry_after_over_cap": "Retry-After above NEWSWARC_RETRY_AFTER_MAX: given up",
    "timeout": "no complete response within DOWNLOAD_TIMEOUT",
    "invalid_response": "status line or headers that cannot be parsed",
    "cancelled": "download cancelled before it ended",
    "connection_failed": "connection refused, lost or name not resolved",
    "robots_txt_too_large": "robots.txt above NEWSWARC_ROBOTSTXT_MAX_BYTES: its first part used",
    "robots_txt_cut": "robots.txt cut by the time limit or the connection: its first part used",
    "robots_txt_unavailable": "robots.txt could not be fetched: the site is crawled without it",
}


@dataclass
class _Reason:
    count: int = 0
    urls: list[dict[str, str]] = field(default_factory=list)


class ProblemLog:
    """Collect problems by reason: a WARNING line and a stats counter for each, URLs kept bounded.

    The first ``max_urls`` URLs of each reason are kept with a detail for the manifest; the
    counts are exact. Memory does not grow with the crawl: at most ``max_urls`` per reason.
    """

    def __init__(self, stats: StatsCollector | None, max_urls: int = 100) -> None:
        self.stats = stats
        self.max_urls = max_urls
        self._reasons: dict[str, _Reason] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProblemLog:
        return cls(crawler.stats, crawler.settings.getint("NEWSWARC_PROBLEM_URLS", 100))

    @classmethod
    def of(cls, crawler: Crawler) -> ProblemLog:
        """Return the crawl's problem log (the extension), or a private one if it is disabled."""
        found = crawler.get_extension(cls)
        if found is None:
            found = getattr(crawler, "_newswarc_problems", None)
            if found is None:
                found = cls.from_crawler(crawler)
                crawler._newswarc_problems = found  # type: ignore[attr-defined]
        return found

    def record(self, reason: str, url: str, detail: str = "") -> None:
        """Log, count and (within the bound) name one problem."""
        logger.warning("newswarc: %s: %s%s", reason, url, f" ({detail})" if detail else "")
        entry = self._reasons.setdefault(reason, _Reason())
        entry.count += 1
        if len(entry.urls) < self.max_urls:
            entry.urls.append({"url": url, "detail": detail} if detail else {"url": url})
        if self.stats is not None:
            self.stats.inc_value(STATS_PREFIX + reason)

    def count(self, reason: str) -> int:
        """Return how many times a reason was recorded."""
        entry = self._reasons.get(reason)
        return entry.count if entry else 0

    def report(self) -> dict[str, Any]:
        """Return the manifest's ``problems``: per reason, the count and the first URLs."""
        return {
            reason: {
                "count": entry.count,
                "urls": list(entry.urls),
                **(
                    {"urls_left_out": entry.count - len(entry.urls)}
                    if entry.count > len(entry.urls)
                    else {}
                ),
            }
            for reason, entry in sorted(self._reasons.items())
        }


def problem_report(crawler: Crawler) -> dict[str, Any]:
    """Return the crawl's problems for its manifest (empty without a problem log)."""
    found = crawler.get_extension(ProblemLog) or getattr(crawler, "_newswarc_problems", None)
    return found.report() if found is not None else {}
