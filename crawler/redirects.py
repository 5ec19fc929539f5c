"""Redirect loops and over-long chains: named by URL with a reason before Scrapy drops them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.httpobj import urlparse_cached
from w3lib.url import safe_url_string

from crawler.problems import ProblemLog

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

_REDIRECTS = {301, 302, 303, 307, 308}


def _without_fragment(url: str) -> str:
    return url.split("#", 1)[0]


class RedirectCheckMiddleware:
    """See each redirect before ``RedirectMiddleware`` (600) follows it.

    Scrapy drops a loop silently (the duplicate filter eats the second visit of a URL) and an
    over-long chain with a DEBUG line. Here both are logged, counted and named in the manifest
    by the URL first requested, with the chain; the redirect responses themselves were archived
    by the capture middleware.
    """

    def __init__(self, problems: ProblemLog, max_times: int) -> None:
        self.problems = problems
        self.max_times = max_times

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedirectCheckMiddleware:
        return cls(ProblemLog.of(crawler), crawler.settings.getint("REDIRECT_MAX_TIMES"))

    def process_response(self, request: Request, response: Response) -> Response:
        meta = request.meta
        if (
            response.status not in _REDIRECTS
            or b"Location" not in response.headers
            or meta.get("dont_redirect")
            or meta.get("handle_httpstatus_all")
            or response.status in meta.get("handle_httpstatus_list", ())
        ):
            return response
        location = response.headers[b"Location"] or b""
        target = safe_url_string(location)
        if location.startswith(b"//"):
            target = f"{urlparse_cached(request).scheme}:{target}"
        target = response.urljoin(target)
        chain = [*meta.get("redirect_urls", []), request.url]
        first = chain[0]
        if _without_fragment(target) in {_without_fragment(u) for u in chain}:
            self.problems.record("redirect_loop", first, " -> ".join([*chain, target]))
            raise IgnoreRequest("newswarc: redirect_loop")
        ttl = meta.get("redirect_ttl", self.max_times)
        if not ttl or meta.get("redirect_times", 0) + 1 > self.max_times:
            self.problems.record(
                "too_many_redirects",
                first,
                f"{len(chain)} redirects, limit {self.max_times}; last {request.url} -> {target}",
            )
            raise IgnoreRequest("newswarc: too_many_redirects")
        return response
