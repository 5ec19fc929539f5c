"""Pages that are not what they claim: binary as text, non-HTML, unknown or wrong charsets, NULs."""

from __future__ import annotations

import codecs
import re
from typing import TYPE_CHECKING

from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response

from crawler.problems import ProblemLog

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

_MAGIC = (
    b"%PDF-",
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"RIFF",
    b"OggS",
    b"ID3",
    b"BZh",
    b"7z\xbc\xaf",
    b"Rar!",
    b"\xd0\xcf\x11\xe0",
    b"wOFF",
    b"wOF2",
    b"\x7fELF",
    b"MZ",
)
_TEXT_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]")
_CHARSET = re.compile(rb"""charset\s*=\s*["']?([^\s;"']+)""", re.IGNORECASE)
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def looks_binary(body: bytes) -> bool:
    """Tell whether a body is binary data: a known file signature, or many control bytes."""
    head = body[:1024]
    if not head or head.startswith(_TEXT_BOMS):
        return False
    if head.startswith(_MAGIC) or head[4:8] == b"ftyp":
        return True
    return len(_CONTROL.findall(head)) > len(head) // 10


def is_text_type(mime: str) -> bool:
    """Tell whether a media type is text a spider can read (HTML, XML, JSON, plain text)."""
    return (
        mime.startswith("text/")
        or mime.endswith(("xml", "json", "javascript"))
        or mime in _HTML_TYPES
    )


def _codec(label: str) -> str | None:
    try:
        return codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None


class ContentCheckMiddleware:
    """Judge each page after decoding (below HttpCompressionMiddleware, 590).

    Only responses the spider reads as pages are judged (callback ``parse`` or none), not
    feeds, sitemaps or robots.txt. Binary data served as text is dropped (``binary_as_html``):
    extracting it would only make garbage. A PDF or image (``not_html``), a charset label no
    codec knows (``unknown_charset``), bytes not valid in the declared charset
    (``charset_mismatch``) and NUL bytes in HTML (``malformed_html``) are named and passed on:
    the spider skips non-HTML pages, and the extractor decodes and parses the others as a
    browser would.
    """

    def __init__(self, problems: ProblemLog) -> None:
        self.problems = problems

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ContentCheckMiddleware:
        return cls(ProblemLog.of(crawler))

    def process_response(self, request: Request, response: Response) -> Response:
        callback = request.callback
        if not 200 <= response.status < 300 or (
            callback is not None and getattr(callback, "__name__", "") != "parse"
        ):
            return response
        body = response.body
        content_type = response.headers.get(b"Content-Type") or b""
        mime = content_type.split(b";", 1)[0].strip().lower().decode("latin-1")
        url = response.url
        if looks_binary(body) and (not mime or is_text_type(mime)):
            self.problems.record(
                "binary_as_html", url, f"{mime or 'no Content-Type'}, {len(body)} bytes of binary"
            )
            raise IgnoreRequest("newswarc: binary_as_html")
        if mime and not is_text_type(mime):
            self.problems.record("not_html", url, mime)
            return response
        if mime not in _HTML_TYPES:
            return response
        nuls = body.count(b"\x00")
        if nuls and not body.startswith(_TEXT_BOMS[1:]):
            self.problems.record("malformed_html", url, f"{nuls} NUL bytes")
        found = _CHARSET.search(content_type)
        if found:
            label = found.group(1).decode("latin-1")
            codec = _codec(label)
            if codec is None:
                self.problems.record("unknown_charset", url, f"charset={label}")
            else:
                try:
                    body.decode(codec)
                except UnicodeDecodeError as exc:
                    self.problems.record(
                        "charset_mismatch",
                        url,
                        f"charset={label}, invalid bytes from offset {exc.start}",
                    )
        return response
