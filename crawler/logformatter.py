"""Log messages that name an item by URL instead of printing it (article pages carry their body)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.logformatter import LogFormatter, LogFormatterResult

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.http import Response
    from twisted.python.failure import Failure


def _by_url(result: LogFormatterResult, item: Any) -> LogFormatterResult:
    url = getattr(item, "url", None) or (item.get("url") if isinstance(item, dict) else None)
    args = result["args"]
    if isinstance(args, dict):
        result["args"] = {**args, "item": str(url) if url else type(item).__name__}
    return result


class NewsLogFormatter(LogFormatter):
    """Scrapy's formatter, with items shown by URL."""

    def scraped(
        self, item: Any, response: Response | Failure | None, spider: Spider
    ) -> LogFormatterResult:
        return _by_url(super().scraped(item, response, spider), item)

    def dropped(
        self,
        item: Any,
        exception: BaseException,
        response: Response | Failure | None,
        spider: Spider,
    ) -> LogFormatterResult:
        result = _by_url(super().dropped(item, exception, response, spider), item)
        result["msg"] = "Dropped %(item)s: %(exception)s"
        return result

    def item_error(
        self,
        item: Any,
        exception: BaseException,
        response: Response | Failure | None,
        spider: Spider,
    ) -> LogFormatterResult:
        return _by_url(super().item_error(item, exception, response, spider), item)
