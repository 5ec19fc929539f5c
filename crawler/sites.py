"""Site configs: one TOML file a site in ``settings/sites/``, checked strictly at load."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SITES_DIR = Path(__file__).resolve().parent.parent / "settings" / "sites"

_KNOWN = {
    "": {"name", "allowed_domains", "start_urls", "feeds", "sitemaps", "archive_uri"},
    "articles": {"allow", "deny"},
    "politeness": {"download_delay", "concurrency"},
    "schedule": {"cron", "window_hours", "recrawl_hours"},
}


class SiteConfigError(ValueError):
    """A site config is invalid; the message names the file, the line and the reason."""


@dataclass
class SiteConfig:
    """What to crawl for one site, and how often."""

    name: str
    path: Path
    allowed_domains: list[str]
    start_urls: list[str] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    allow: list[re.Pattern[str]] = field(default_factory=list)
    deny: list[re.Pattern[str]] = field(default_factory=list)
    download_delay: float | None = None
    concurrency: int | None = None
    cron: str | None = None
    window_hours: float = 48.0
    recrawl_hours: float = 0.0
    archive_uri: str | None = None

    def wants(self, url: str) -> bool:
        """Tell whether ``url`` is on the site and passes the article URL patterns."""
        host = (urlsplit(url).hostname or "").lower()
        if not any(host == d or host.endswith("." + d) for d in self.allowed_domains):
            return False
        if any(p.search(url) for p in self.deny):
            return False
        return not self.allow or any(p.search(url) for p in self.allow)


def _line_of(text: str, key: str, table: str) -> int:
    """Return the line where ``key`` is set (in ``[table]`` when given), or 1."""
    lines = text.splitlines()
    in_table = table == ""
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("["):
            in_table = stripped.strip("[] ") == table
            continue
        if in_table and re.match(rf"{re.escape(key)}\s*=", stripped):
            return number
    return 1


def load_site(name: str, folder: Path = SITES_DIR) -> SiteConfig:
    """Load and check the config of site ``name`` (or a path to a ``.toml`` file).

    Raises:
        SiteConfigError: the file is missing, is not TOML, or has a wrong or unknown key.

    """
    path = Path(name) if name.endswith(".toml") else folder / f"{name}.toml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []
        raise SiteConfigError(f"{path}: no such site config (known: {', '.join(known) or 'none'})")
    text = path.read_text("utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise SiteConfigError(f"{path}:{line.group(1) if line else 1}: {exc}") from None

    def fail(key: str, table: str, reason: str) -> SiteConfigError:
        return SiteConfigError(f"{path}:{_line_of(text, key, table)}: {key}: {reason}")

    for table, keys in _KNOWN.items():
        section = data if table == "" else data.get(table, {})
        if not isinstance(section, dict):
            raise fail(table, "", "must be a table")
        for key in section:
            if table == "" and key in _KNOWN and isinstance(section[key], dict):
                continue
            if key not in keys:
                raise fail(key, table, f"unknown key (expected one of {', '.join(sorted(keys))})")

    def strings(key: str, table: str = "", *, urls: bool = False) -> list[str]:
        section = data if table == "" else data.get(table, {})
        value = section.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise fail(key, table, "must be a list of strings")
        if urls:
            for v in value:
                if urlsplit(v).scheme not in ("http", "https") or not urlsplit(v).netloc:
                    raise fail(key, table, f"not an http(s) URL: {v!r}")
        return value

    def patterns(key: str) -> list[re.Pattern[str]]:
        out = []
        for value in strings(key, "articles"):
            try:
                out.append(re.compile(value))
            except re.error as exc:
                raise fail(key, "articles", f"bad regular expression {value!r}: {exc}") from None
        return out

    site_name = data.get("name", path.stem)
    if not isinstance(site_name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", site_name):
        raise fail("name", "", "must be letters, digits, '.', '_' or '-'")
    domains = [d.lower().removeprefix("www.") for d in strings("allowed_domains")]
    if not domains:
        raise fail("allowed_domains", "", "at least one domain is required")
    start_urls, feeds = strings("start_urls", urls=True), strings("feeds", urls=True)
    sitemaps = [s for s in strings("sitemaps") if s != "robots"]
    for value in sitemaps:
        if urlsplit(value).scheme not in ("http", "https"):
            raise fail("sitemaps", "", f"not an http(s) URL or 'robots': {value!r}")
    if "robots" in strings("sitemaps"):
        # "robots": the sitemaps robots.txt lists, for each start page's host.
        hosts = {f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in start_urls + feeds}
        sitemaps += [f"{h}/robots.txt" for h in sorted(hosts)]
    if not (start_urls or feeds or sitemaps):
        raise fail("start_urls", "", "give start_urls, feeds or sitemaps")
    politeness: dict[str, Any] = data.get("politeness", {})
    schedule: dict[str, Any] = data.get("schedule", {})
    delay = politeness.get("download_delay")
    if delay is not None and (not isinstance(delay, int | float) or delay < 0):
        raise fail("download_delay", "politeness", "must be a number of seconds >= 0")
    concurrency = politeness.get("concurrency")
    if concurrency is not None and (not isinstance(concurrency, int) or concurrency < 1):
        raise fail("concurrency", "politeness", "must be an integer >= 1")
    cron = schedule.get("cron")
    if cron is not None and (not isinstance(cron, str) or len(cron.split()) != 5):
        raise fail("cron", "schedule", "must be a five-field cron expression")
    window = schedule.get("window_hours", 48)
    recrawl = schedule.get("recrawl_hours", 0)
    for key, value in (("window_hours", window), ("recrawl_hours", recrawl)):
        if not isinstance(value, int | float) or value < 0:
            raise fail(key, "schedule", "must be a number of hours >= 0")
    archive_uri = data.get("archive_uri")
    if archive_uri is not None and not isinstance(archive_uri, str):
        raise fail("archive_uri", "", "must be a string")
    return SiteConfig(
        name=site_name,
        path=path,
        allowed_domains=domains,
        start_urls=start_urls,
        feeds=feeds,
        sitemaps=sitemaps,
        allow=patterns("allow"),
        deny=patterns("deny"),
        download_delay=float(delay) if delay is not None else None,
        concurrency=concurrency,
        cron=cron,
        window_hours=float(window),
        recrawl_hours=float(recrawl),
        archive_uri=archive_uri,
    )
