"""Items the spider emits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ArticlePage:
    """A fetched page the spider believes is an article, before extraction.

    Attributes:
        url: Final URL, after redirects.
        requested_url: URL first requested (differs after a redirect).
        status: HTTP status of the final response.
        body: Decoded-transfer, decoded-content body bytes, as Scrapy hands them to the spider.
        content_type: The response's ``Content-Type`` header, for charset detection.
        fetched_at: ISO 8601 capture time of the final response.
        warc: Pointer to the response record (see ``pipelines.warcfile.RecordPointer``).
        forced: The page was asked for by URL (``-a url=``): keep it even if short.
        signals: Why the spider took it for an article.

    """

    url: str
    requested_url: str
    status: int
    body: bytes
    content_type: str | None
    fetched_at: str
    warc: dict[str, Any] | None = None
    forced: bool = False
    signals: list[str] = field(default_factory=list)
