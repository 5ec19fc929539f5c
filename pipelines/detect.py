"""Cheap signals that a fetched page is a news article, read before any text extraction."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pipelines.metadata import ARTICLE_TYPES

_TYPES = "|".join(sorted(ARTICLE_TYPES))
_JSONLD_ARTICLE = re.compile(
    r'"@type"\s*:\s*(?:\[[^\]]*?)?"(?:https?://schema\.org/)?(?:' + _TYPES + r')"'
)
_OG_ARTICLE = re.compile(
    r"""<meta\b[^>]*?(?:property|name)\s*=\s*["']og:type["'][^>]*?content\s*=\s*["']article["']"""
    r"""|<meta\b[^>]*?content\s*=\s*["']article["'][^>]*?(?:property|name)\s*=\s*["']og:type["']""",
    re.IGNORECASE,
)
_DATE_PATH = re.compile(
    r"/(?:19|20)\d{2}[/-](?:0?[1-9]|1[0-2])(?:[/-](?:0?[1-9]|[12]\d|3[01]))?(?:/|-|$)"
)
_LONG_ID = re.compile(r"(?:^|[/_\-.=])\d{5,}(?:$|[/_\-.])")
_LISTING = re.compile(
    r"/(?:tags?|category|categories|section|sections|authors?|topics?|search|page|archives?"
    r"|videos?|galler(?:y|ies)|photos?|live|newsletters?|about|contact|privacy|terms)(?:/|$)",
    re.IGNORECASE,
)


def url_signals(url: str) -> list[str]:
    """Return the article signals in a URL's shape (date path, long id, multi-word slug)."""
    parts = urlsplit(url)
    path = parts.path
    segments = [s for s in path.split("/") if s]
    if not segments or _LISTING.search(path):
        return []
    found = []
    if _DATE_PATH.search(path):
        found.append("url:date")
    if _LONG_ID.search(path) or re.search(r"(?:^|&)(?:id|p|article|story)=\d{3,}", parts.query):
        found.append("url:id")
    last = re.sub(r"\.(?:s?html?|php|aspx?)$", "", segments[-1])
    if len(re.split(r"[-_]", last)) >= 4 and len(last) >= 20:
        found.append("url:slug")
    return found


def markup_signals(html_head: str) -> list[str]:
    """Return the article signals a page declares (JSON-LD type, ``og:type``)."""
    found = []
    if _JSONLD_ARTICLE.search(html_head):
        found.append("jsonld")
    if _OG_ARTICLE.search(html_head):
        found.append("og:type")
    return found


def article_signals(url: str, html: str) -> list[str]:
    """Return every article signal of a page; empty means "not an article"."""
    return markup_signals(html[:300_000]) + url_signals(url)
