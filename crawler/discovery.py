"""Where new articles are announced: RSS, Atom and JSON Feed, sitemaps and Google News sitemaps."""

from __future__ import annotations

import calendar
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import feedparser
from lxml import etree


@dataclass(frozen=True)
class Entry:
    """An announced URL and, when known, when it was published and when it last changed.

    ``published`` is the publication date, else the last change (it decides the date window);
    ``modified`` is only a date the source gives as the last change (sitemap ``lastmod``,
    Atom ``updated``, JSON Feed ``date_modified``): a known article changed after its last
    fetch is fetched again.
    """

    url: str
    published: datetime | None = None
    modified: datetime | None = None


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        match = re.match(r"(\d{4})-(\d{2})-(\d{2})", value)
        if not match:
            return None
        year, month, day = (int(g) for g in match.groups())
        parsed = datetime(year, month, day)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def is_json_feed(body: bytes, content_type: str | None) -> bool:
    """Tell whether a feed is a JSON Feed (by type or by its ``version`` URL)."""
    if content_type and "json" in content_type.lower():
        return True
    return body.lstrip()[:1] == b"{" and b"jsonfeed.org" in body[:2000]


def parse_feed(body: bytes, content_type: str | None = None) -> list[Entry]:
    """Return the entries of an RSS, Atom or JSON feed, newest information kept per URL."""
    if is_json_feed(body, content_type):
        try:
            data = json.loads(body)
        except ValueError:
            return []
        return [
            Entry(
                item["url"],
                _when(item.get("date_published") or item.get("date_modified")),
                _when(item.get("date_modified")),
            )
            for item in data.get("items", [])
            if isinstance(item, dict) and isinstance(item.get("url"), str)
        ]
    parsed = feedparser.parse(body)
    entries = []
    for item in parsed.entries:
        link = item.get("link")
        if not link:
            continue
        stamp = item.get("published_parsed") or item.get("updated_parsed")
        when = datetime.fromtimestamp(calendar.timegm(stamp), UTC) if stamp else None
        # dict.get: feedparser maps a missing `updated` to `published`, which is no change date.
        changed = dict.get(item, "updated_parsed")
        modified = datetime.fromtimestamp(calendar.timegm(changed), UTC) if changed else None
        entries.append(Entry(link, when, modified))
    return entries


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse_sitemap(body: bytes) -> tuple[str, list[Entry]]:
    """Return ``("index", child sitemaps)`` or ``("urlset", pages)`` of a sitemap.

    A page's date is its ``news:publication_date`` (Google News sitemaps), else ``lastmod``.
    Parsed as a stream, so a 50 000-URL sitemap is not held as a tree.
    """
    kind = ""
    entries: list[Entry] = []
    loc: str | None = None
    lastmod: str | None = None
    published: str | None = None
    parser = etree.iterparse(
        io.BytesIO(body), events=("start", "end"), resolve_entities=False, no_network=True
    )
    try:
        for event, el in parser:
            name = _local(el.tag)
            if event == "start":
                if not kind and name in ("sitemapindex", "urlset"):
                    kind = "index" if name == "sitemapindex" else "urlset"
                continue
            if name == "loc" and loc is None:
                loc = (el.text or "").strip()
            elif name == "lastmod":
                lastmod = el.text
            elif name == "publication_date":
                published = el.text
            elif name in ("url", "sitemap"):
                if loc:
                    modified = _when(lastmod)
                    entries.append(Entry(loc, _when(published) or modified, modified))
                loc = lastmod = published = None
                el.clear()
    except etree.XMLSyntaxError:
        pass  # keep what parsed before the damage
    return kind or "urlset", entries


def robots_sitemaps(body: bytes) -> Iterator[str]:
    """Yield the ``Sitemap:`` URLs of a robots.txt."""
    for line in body.decode("utf-8", "replace").splitlines():
        if line.lower().startswith("sitemap:"):
            url = line.split(":", 1)[1].strip()
            if url:
                yield url
