"""Per-site extraction quality: one run's figures, the checks against history, the trend."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from pipelines.storage import Storage

#: Word counts above this are counted as this (keeps the per-run tally bounded).
WORDS_CAP = 20_000
#: Rejection reasons of article candidates, from Scrapy's stats (prefix -> reason).
REJECTION_STATS = {
    "newswarc/skipped/too_short": "too_short",
    "newswarc/errors/extract_failed/": "extract_failed/",
}


@dataclass(frozen=True)
class Thresholds:
    """When a run's figure, compared with the site's recent history, raises an alert.

    Shares are fractions (0.3 is 30 percentage points). A figure is compared with the median of
    the same figure over the last ``history`` runs of the site that had at least
    ``min_articles`` extracted articles; a run with fewer is not judged on its shares.
    """

    min_articles: int = 3
    history: int = 5
    short_words: int = 150
    words_drop_warning: float = 0.4
    words_drop_critical: float = 0.7
    missing_date_warning: float = 0.3
    missing_date_critical: float = 0.6
    missing_title_warning: float = 0.3
    missing_title_critical: float = 0.6
    missing_authors_warning: float = 0.5
    short_rise_warning: float = 0.3
    cleaned_change_warning: float = 0.5
    failed_share_warning: float = 0.2
    all_rejected_critical: bool = True

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Thresholds:
        """Build from ``{"words_drop_warning": 0.5, ...}`` (unknown keys refused)."""
        known = set(cls.__dataclass_fields__)
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown quality thresholds: {', '.join(sorted(unknown))}")
        defaults = cls()

        def cast(key: str, value: Any) -> Any:
            if isinstance(getattr(defaults, key), bool):
                return value if isinstance(value, bool) else str(value).lower() in ("1", "true")
            return type(getattr(defaults, key))(value)

        return cls(**{k: cast(k, v) for k, v in values.items()})


@dataclass(frozen=True)
class Alert:
    """One figure of one run past a threshold."""

    level: str  # WARNING or CRITICAL
    check: str  # words_drop, missing_date, missing_title, missing_authors, short_texts, ...
    message: str
    value: float | None = None
    baseline: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the alert as the manifest stores it."""
        return asdict(self)


@dataclass
class RunQuality:
    """Tally one run's extracted records, in bounded memory, and summarise them.

    Args:
        site: The site's name (site config), or its domains for ad-hoc crawls.
        short_words: Texts with fewer words count as very short.

    """

    site: str
    short_words: int = 150
    extracted: int = 0
    no_title: int = 0
    no_date: int = 0
    no_authors: int = 0
    short: int = 0
    cleaned: int = 0
    words: Counter[int] = field(default_factory=Counter)

    def add(self, record: Mapping[str, Any]) -> None:
        """Count one extracted article record (written, or unchanged since the last run)."""
        self.extracted += 1
        self.no_title += not record.get("title")
        self.no_date += not record.get("published")
        self.no_authors += not record.get("authors")
        count = record.get("word_count")
        if not isinstance(count, int):  # a broken record is counted, never a crash at close
            count = len(str(record.get("text") or "").split())
        self.short += count < self.short_words
        self.words[min(count, WORDS_CAP)] += 1
        quality = record.get("quality")
        quality = quality if isinstance(quality, dict) else {}
        self.cleaned += any(
            quality.get(key)
            for key in (
                "removed_blocks",
                "removed_inline_related",
                "removed_separators",
                "removed_boilerplate",
            )
        )

    def median_words(self) -> float | None:
        """Return the median word count of the run's texts, or None without any."""
        if not self.extracted:
            return None
        return float(statistics.median(self.words.elements()))

    def summary(self, stats: Mapping[str, Any]) -> dict[str, Any]:
        """Return the run's quality figures (the manifest's ``quality`` field).

        Args:
            stats: Scrapy's stats of the run, for candidates, rejections and records written.

        """
        rejected: dict[str, int] = {}
        for key, value in stats.items():
            for prefix, reason in REJECTION_STATS.items():
                if key == prefix or (prefix.endswith("/") and key.startswith(prefix)):
                    name = reason + key.removeprefix(prefix) if prefix.endswith("/") else reason
                    rejected[name] = rejected.get(name, 0) + int(value)
        invalid = int(stats.get("spidermon/validation/items/errors", 0))
        if invalid:
            rejected["schema_invalid"] = invalid  # written anyway: a contract break to look at

        def share(count: int) -> float | None:
            return round(count / self.extracted, 4) if self.extracted else None

        return {
            "site": self.site,
            "candidates": int(stats.get("newswarc/pages/article_candidates", 0)),
            "extracted": self.extracted,
            "articles_archived": int(stats.get("newswarc/articles/written", 0)),
            "unchanged": int(stats.get("newswarc/articles/unchanged", 0)),
            "rejected": dict(sorted(rejected.items())),
            "missing_title_share": share(self.no_title),
            "missing_date_share": share(self.no_date),
            "missing_authors_share": share(self.no_authors),
            "median_words": self.median_words(),
            "short_share": share(self.short),
            "short_words": self.short_words,
            "cleaned_share": share(self.cleaned),
        }


def _median(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(statistics.median(kept)) if kept else None


def evaluate(
    current: Mapping[str, Any],
    history: Iterable[Mapping[str, Any]],
    thresholds: Thresholds | None = None,
) -> list[Alert]:
    """Compare one run's quality with the site's recent runs; return the alerts it raises.

    Args:
        current: The run's ``quality`` summary (:meth:`RunQuality.summary`).
        history: Earlier summaries of the same site, newest first.
        thresholds: The limits (default :class:`Thresholds`).

    """
    t = thresholds or Thresholds()
    alerts: list[Alert] = []
    candidates = int(current.get("candidates") or 0)
    extracted = int(current.get("extracted") or 0)
    rejected = current.get("rejected") or {}
    failed = sum(v for k, v in rejected.items() if k.startswith("extract_failed/"))
    if t.all_rejected_critical and candidates >= t.min_articles and extracted == 0:
        alerts.append(
            Alert(
                "CRITICAL",
                "all_rejected",
                f"every one of {candidates} article candidates was rejected "
                f"({', '.join(f'{k} {v}' for k, v in sorted(rejected.items())) or 'no reason'})",
                0.0,
            )
        )
    if candidates >= t.min_articles and failed / candidates >= t.failed_share_warning:
        alerts.append(
            Alert(
                "WARNING",
                "extract_failed",
                f"{failed} of {candidates} candidates failed extraction",
                round(failed / candidates, 4),
                t.failed_share_warning,
            )
        )
    if rejected.get("schema_invalid"):
        alerts.append(
            Alert(
                "WARNING",
                "schema_invalid",
                f"{rejected['schema_invalid']} records do not match the article JSON Schema",
                float(rejected["schema_invalid"]),
            )
        )
    if extracted < t.min_articles:
        return alerts
    past = [h for h in history if int(h.get("extracted") or 0) >= t.min_articles][: t.history]
    if not past:
        return alerts

    words, base_words = current.get("median_words"), _median(h.get("median_words") for h in past)
    if words is not None and base_words:
        drop = 1 - words / base_words
        level = (
            "CRITICAL"
            if drop >= t.words_drop_critical
            else "WARNING"
            if drop >= t.words_drop_warning
            else None
        )
        if level:
            alerts.append(
                Alert(
                    level,
                    "words_drop",
                    f"median words {words:g}, {drop:.0%} below the recent {base_words:g}",
                    words,
                    base_words,
                )
            )

    def rise(key: str, check: str, what: str, warning: float, critical: float | None) -> None:
        value, base = current.get(key), _median(h.get(key) for h in past)
        if value is None or base is None:
            return
        delta = value - base
        level = (
            "CRITICAL"
            if critical is not None and delta >= critical
            else "WARNING"
            if delta >= warning
            else None
        )
        if level:
            alerts.append(
                Alert(
                    level,
                    check,
                    f"{what} in {value:.0%} of articles (recently {base:.0%})",
                    value,
                    base,
                )
            )

    rise(
        "missing_date_share",
        "missing_date",
        "no date",
        t.missing_date_warning,
        t.missing_date_critical,
    )
    rise(
        "missing_title_share",
        "missing_title",
        "no title",
        t.missing_title_warning,
        t.missing_title_critical,
    )
    rise("missing_authors_share", "missing_authors", "no authors", t.missing_authors_warning, None)
    rise("short_share", "short_texts", "very short texts", t.short_rise_warning, None)
    cleaned, base_cleaned = (
        current.get("cleaned_share"),
        _median(h.get("cleaned_share") for h in past),
    )
    if (
        cleaned is not None
        and base_cleaned is not None
        and abs(cleaned - base_cleaned) >= t.cleaned_change_warning
    ):
        alerts.append(
            Alert(
                "WARNING",
                "cleaned_change",
                f"the cleaner cut blocks in {cleaned:.0%} of articles "
                f"(recently {base_cleaned:.0%})",
                cleaned,
                base_cleaned,
            )
        )
    return alerts


def site_of_manifest(manifest: Mapping[str, Any]) -> str | None:
    """Return the site a manifest's quality figures belong to."""
    quality = manifest.get("quality")
    if isinstance(quality, dict) and quality.get("site"):
        return str(quality["site"])
    site = manifest.get("site")
    return str(site["name"]) if isinstance(site, dict) and site.get("name") else None


def manifests(storage: Storage, *, newest_first: bool = False) -> Iterator[dict[str, Any]]:
    """Yield the archive's crawl manifests in crawl-id (start) order, skipping unreadable ones."""
    keys = sorted((k for k in storage.list("crawls/") if k.endswith(".json")), reverse=newest_first)
    for key in keys:
        try:
            with storage.open(key) as fh:
                data = json.loads(fh.read())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            yield data


def site_history(
    storage: Storage, site: str, *, limit: int, exclude: str | None = None, scan: int = 500
) -> list[dict[str, Any]]:
    """Return the quality summaries of the last ``limit`` runs of ``site``, newest first.

    Only finished runs count: a killed or stopped run says nothing about the template. At most
    the newest ``scan`` manifests are read (an archive of many sites holds many of others).
    """
    out: list[dict[str, Any]] = []
    for number, manifest in enumerate(manifests(storage, newest_first=True)):
        if number >= scan:
            break
        if manifest.get("crawl_id") == exclude or site_of_manifest(manifest) != site:
            continue
        if manifest.get("finish_reason") != "finished" or not isinstance(
            manifest.get("quality"), dict
        ):
            continue
        out.append(manifest["quality"])
        if len(out) >= limit:
            break
    return out


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value:.0%}"


def trend_rows(storage: Storage, site: str | None = None) -> Iterator[dict[str, Any]]:
    """Yield one row a run (oldest first) with its quality figures and alerts."""
    for manifest in manifests(storage):
        quality = manifest.get("quality")
        name = site_of_manifest(manifest)
        if not isinstance(quality, dict) or (site is not None and name != site):
            continue
        yield {
            "crawl_id": manifest.get("crawl_id"),
            "finish_reason": manifest.get("finish_reason"),
            **quality,
            "alerts": manifest.get("quality_alerts") or [],
        }


def format_trend(rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """Render trend rows as aligned text lines, grouped by site."""
    header = (
        f"{'crawl':<24} {'cand':>5} {'arch':>5} {'rej':>5} {'words':>6} {'short':>6} "
        f"{'!title':>6} {'!date':>6} {'!auth':>6} {'clean':>6}  alerts"
    )
    by_site: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_site.setdefault(str(row.get("site")), []).append(row)
    for site, site_rows in sorted(by_site.items()):
        yield f"site {site}: {len(site_rows)} runs"
        yield header
        for r in site_rows:
            words = r.get("median_words")
            alerts = "; ".join(f"{a['level']} {a['check']}" for a in r.get("alerts") or []) or "-"
            yield (
                f"{r.get('crawl_id')!s:<24} {r.get('candidates', 0):>5} "
                f"{r.get('articles_archived', 0):>5} {sum((r.get('rejected') or {}).values()):>5} "
                f"{'-' if words is None else f'{words:g}':>6} {_pct(r.get('short_share')):>6} "
                f"{_pct(r.get('missing_title_share')):>6} {_pct(r.get('missing_date_share')):>6} "
                f"{_pct(r.get('missing_authors_share')):>6} {_pct(r.get('cleaned_share')):>6}  "
                f"{alerts}"
            )


def cmd_quality(args: Any) -> int:
    """Print the quality trend of every site (or one) over the archive's runs."""
    from pipelines.storage import storage_from_uri

    rows = list(trend_rows(storage_from_uri(args.archive), args.site))
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    if not rows:
        print(f"no runs with quality figures{f' for site {args.site}' if args.site else ''}")
        return 1
    for line in format_trend(rows):
        print(line)
    return 0


def register(subparsers: Any) -> None:
    """Add ``quality ARCHIVE_URI [--site NAME] [--json]`` to the ``newswarc`` command.

    Args:
        subparsers: What ``ArgumentParser.add_subparsers()`` returned.

    """
    p = subparsers.add_parser(
        "quality",
        help="per-site extraction quality over the runs of an archive",
        description="One line a run: candidates, articles archived, rejected, median words, "
        "shares of very short texts and of articles without title, date or authors, share the "
        "cleaner cut blocks from, and the alerts the run raised.",
    )
    p.add_argument("archive", help="archive URI: folder, file:// or s3://bucket/prefix")
    p.add_argument("--site", help="only this site (its config name)")
    p.add_argument("--json", action="store_true", help="one JSON line a run")
    p.set_defaults(func=cmd_quality)
