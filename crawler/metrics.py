"""Prometheus metrics of a crawl: an HTTP endpoint and a textfile-collector file."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, start_http_server, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.extensions import ArchiveExtension, skipped_counts
from pipelines import __version__

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from scrapy.crawler import Crawler
    from scrapy.spiders import Spider

logger = logging.getLogger(__name__)

#: Sent by the extraction pipeline for every page: ``seconds`` (hand-over to result), ``status``.
page_extracted = object()

#: Quantiles of the extraction time, over the last ``NEWSWARC_METRICS_WINDOW`` pages.
QUANTILES = (0.5, 0.9, 0.99)
LAST_SUCCESS = "newswarc_site_last_success_timestamp_seconds"


def site_label(spider: Any) -> str:
    """Return the name metrics and quality figures give a crawl's site.

    The site config's name; for ad-hoc crawls the crawled domains joined by ``+``.
    """
    site = getattr(spider, "site", None)
    if site is not None:
        return str(site.name)
    domains = sorted(getattr(spider, "allowed_domains", None) or [])
    return "+".join(domains) or "unknown"


def textfile_name(site: str) -> str:
    """Return the textfile of a site: ``newswarc_SITE.prom`` (node_exporter reads ``*.prom``)."""
    return "newswarc_" + re.sub(r"[^A-Za-z0-9_.-]", "_", site) + ".prom"


def previous_last_success(path: Path, site: str) -> float | None:
    """Read the last successful run of ``site`` from an earlier textfile, if there is one."""
    try:
        text = path.read_text("utf-8")
    except OSError:
        return None
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == LAST_SUCCESS and sample.labels.get("site") == site:
                    return float(sample.value)
    except ValueError:  # a damaged file: the next success writes a good one
        return None
    return None


# Counters read from the crawl's stats: (metric, help, stats key).
_STAT_COUNTERS = (
    ("newswarc_requests", "Requests sent", "downloader/request_count"),
    ("newswarc_pages_fetched", "Responses received", "downloader/response_count"),
    (
        "newswarc_response_bytes",
        "Bytes of responses received, as Scrapy counts them",
        "downloader/response_bytes",
    ),
    (
        "newswarc_article_candidates",
        "Pages taken for articles and sent to extraction",
        "newswarc/pages/article_candidates",
    ),
    ("newswarc_articles_written", "Article records written", "newswarc/articles/written"),
    ("newswarc_warc_captures", "Captures written to WARC files", "newswarc/warc/captures"),
    ("newswarc_warc_files", "WARC files closed", "newswarc/files/warc"),
    ("newswarc_warc_bytes", "Bytes of the WARC files closed", "newswarc/files/warc_bytes"),
)
_LEASE_COUNTERS = (
    (
        "newswarc_queue_leases_requeued",
        "Run-out leases (of dead or hung workers) this worker put back into the queue",
        "newswarc/redis/requeued",
    ),
    (
        "newswarc_queue_leases_acked",
        "Leases this worker acknowledged (the request archived)",
        "newswarc/redis/acked",
    ),
    (
        "newswarc_queue_leases_lost",
        "Leases of this worker that ran out while it still worked on them",
        "newswarc/redis/leases_lost",
    ),
)


class CrawlMetrics:
    """Serve a crawl's figures to Prometheus and write them for node_exporter's textfile collector.

    Off unless ``NEWSWARC_METRICS_PORT`` (HTTP endpoint, bound to ``NEWSWARC_METRICS_ADDR``,
    default 127.0.0.1) or ``NEWSWARC_METRICS_TEXTFILE_DIR`` (a ``newswarc_SITE.prom`` file
    rewritten atomically every ``NEWSWARC_ROLL_CHECK_INTERVAL`` seconds and at the end) is set.
    Each crawler has a registry of its own: several crawlers in one process do not collide. All
    figures are read when scraped (from Scrapy's stats, the uploader and the spool), so nothing
    is counted twice and nothing grows with the crawl. In distributed mode the run's shared
    queue is read from Redis at scrape time too, in one call (queued, leased, leases run out,
    workers), with a client of its own that never waits for an unreachable Redis.
    """

    def __init__(
        self,
        crawler: Crawler,
        *,
        port: int | None,
        addr: str,
        textfile_dir: Path | None,
        window: int = 1000,
    ) -> None:
        self.crawler = crawler
        self.port = port
        self.addr = addr
        self.textfile_dir = textfile_dir
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)  # a collector by protocol (collect())
        self.site = "unknown"
        self.crawl_id = ""
        self.started = time.time()
        self.finished: float | None = None
        self.last_success: float | None = None
        self.archive: ArchiveExtension | None = None
        self.monitor: Any = None
        #: The distributed worker (crawler.distributed.RedisWorker), None in a single process.
        self.redis_worker: Any = None
        self._redis: Any = None
        self._durations: deque[float] = deque(maxlen=window)
        self._extract_count = 0
        self._extract_sum = 0.0
        self._extract_errors = 0
        self._lock = threading.Lock()
        self.server: WSGIServer | None = None
        self._server_thread: threading.Thread | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlMetrics:
        settings = crawler.settings
        port = settings.getint("NEWSWARC_METRICS_PORT", 0) or None
        folder = settings.get("NEWSWARC_METRICS_TEXTFILE_DIR") or None
        if port is None and folder is None:
            raise NotConfigured  # off by default; no line in every crawl's log
        ext = cls(
            crawler,
            port=port,
            addr=settings.get("NEWSWARC_METRICS_ADDR") or "127.0.0.1",
            textfile_dir=Path(folder).expanduser() if folder else None,
            window=settings.getint("NEWSWARC_METRICS_WINDOW", 1000),
        )
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.page_extracted, signal=page_extracted)
        return ext

    # -- lifecycle -------------------------------------------------------------------------

    def spider_opened(self, spider: Spider) -> None:
        from crawler.monitors import QualityExtension

        self.site = site_label(spider)
        self.archive = self.crawler.get_extension(ArchiveExtension)
        self.monitor = self.crawler.get_extension(QualityExtension)
        self._open_redis()
        if self.archive is not None:
            self.crawl_id = self.archive.crawl_id
            self.archive.after_manifest.append(self.run_finished)
            if self.textfile_dir is not None:
                self.archive.add_ticker(self.write_textfile)
        if self.textfile_dir is not None:
            self.textfile_dir.mkdir(parents=True, exist_ok=True)
            self.last_success = previous_last_success(self.textfile_path, self.site)
        if self.port is not None:
            try:
                server, thread = start_http_server(
                    self.port, addr=self.addr, registry=self.registry
                )
            except OSError as exc:  # the port is taken: crawl on, without the endpoint
                logger.error("newswarc: metrics not served on %s:%d: %s", self.addr, self.port, exc)
                return
            self.server, self._server_thread = server, thread
            logger.info("newswarc: metrics on http://%s:%d/metrics", self.addr, server.server_port)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.archive is None:  # no manifest to wait for
            self.run_finished({"finish_reason": reason})

    def run_finished(self, manifest: dict[str, Any]) -> None:
        """Record the run's end (a success when it finished), write the textfile, stop serving."""
        self.finished = time.time()
        if manifest.get("finish_reason") == "finished":
            self.last_success = self.finished
        try:
            self.write_textfile()
        finally:
            self.stop_server()
            if self._redis is not None:
                self._redis.close()

    def stop_server(self) -> None:
        """Stop the HTTP endpoint (idempotent)."""
        server, self.server = self.server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def _open_redis(self) -> None:
        """In distributed mode, a Redis client of the metrics' own for the queue's figures."""
        if not self.crawler.settings.get("NEWSWARC_REDIS_URL"):
            return
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        from crawler.distributed import RedisWorker

        self.redis_worker = self.crawler.get_extension(RedisWorker)
        if self.redis_worker is None:
            return
        # Not the worker's client, which waits out an outage: a scrape must answer at once
        # (from the endpoint's thread or the textfile ticker), with Redis down or not.
        self._redis = redis.Redis.from_url(
            str(self.redis_worker.url),
            socket_timeout=1.0,
            socket_connect_timeout=1.0,
            retry=Retry(NoBackoff(), 0),
        )

    def page_extracted(self, seconds: float, status: str) -> None:
        with self._lock:
            self._durations.append(seconds)
            self._extract_count += 1
            self._extract_sum += seconds
            self._extract_errors += status == "error"

    @property
    def textfile_path(self) -> Path:
        """Where the textfile goes."""
        assert self.textfile_dir is not None
        return self.textfile_dir / textfile_name(self.site)

    def write_textfile(self) -> None:
        """Rewrite the site's textfile atomically (a temporary file renamed over it)."""
        if self.textfile_dir is not None:
            write_to_textfile(str(self.textfile_path), self.registry)

    @property
    def url(self) -> str | None:
        """The endpoint's URL while it is served."""
        if self.server is None:
            return None
        return f"http://{self.addr}:{self.server.server_port}/metrics"

    # -- the collector -----------------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        """Yield every metric, read now (prometheus_client's collector protocol)."""
        stats: dict[str, Any] = dict(self.crawler.stats.get_stats()) if self.crawler.stats else {}
        site = self.site

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            family = CounterMetricFamily(name, doc, labels=["site"])
            family.add_metric([site], value)
            return family

        def gauge(name: str, doc: str, value: float, unit: str = "") -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, doc, labels=["site"], unit=unit)
            family.add_metric([site], value)
            return family

        def by(
            name: str, doc: str, label: str, values: dict[str, Any], kind: str = "counter"
        ) -> Metric:
            family: Metric = (
                CounterMetricFamily(name, doc, labels=["site", label])
                if kind == "counter"
                else GaugeMetricFamily(name, doc, labels=["site", label])
            )
            for key, value in sorted(values.items()):
                family.add_metric([site, key], float(value))  # type: ignore[attr-defined]
            return family

        info = GaugeMetricFamily(
            "newswarc_crawl_info", "The running crawl", labels=["site", "crawl_id", "version"]
        )
        info.add_metric([site, self.crawl_id, __version__], 1)
        yield info
        yield gauge(
            "newswarc_crawl_start_timestamp_seconds", "When the crawl started", self.started
        )
        yield gauge(
            "newswarc_crawl_running", "1 while the crawl runs", float(self.finished is None)
        )
        for name, doc, key in _STAT_COUNTERS:
            yield counter(name, doc, stats.get(key, 0))
        errors = {
            k.removeprefix("downloader/exception_type_count/"): v
            for k, v in stats.items()
            if k.startswith("downloader/exception_type_count/")
        } | {
            k.removeprefix("newswarc/errors/"): v
            for k, v in stats.items()
            if k.startswith("newswarc/errors/")
        }
        yield by("newswarc_errors", "Errors by kind", "kind", errors)
        yield by(
            "newswarc_problems",
            "Hostile or broken responses by reason",
            "reason",
            {
                k.removeprefix("newswarc/problems/"): v
                for k, v in stats.items()
                if k.startswith("newswarc/problems/")
            },
        )
        yield by(
            "newswarc_pages_skipped",
            "Pages fetched but not archived as articles",
            "reason",
            skipped_counts(stats),
        )
        yield by(
            "newswarc_extraction_worker_restarts",
            "Extraction workers replaced, by reason",
            "reason",
            {
                "stalled": stats.get("newswarc/errors/extract_stalled", 0),
                "died": stats.get("newswarc/errors/extract_worker_died", 0),
            },
        )
        yield from self._uploads(gauge, counter)
        yield from self._distributed(gauge, counter, stats)
        yield self._extraction_summary()
        yield from self._quality(gauge, by, stats)
        if self.last_success is not None:
            yield gauge(
                LAST_SUCCESS,
                "When the site's last successful (finished) run ended",
                self.last_success,
            )

    def _uploads(self, gauge: Any, counter: Any) -> Iterator[Metric]:
        archive = self.archive
        if archive is None:
            return
        now = time.time()
        pending = [s for s in list(archive.uploader.files.values()) if s.status == "pending"]
        oldest = 0.0
        for state in pending:
            try:
                oldest = max(oldest, now - (archive.spool / state.key).stat().st_mtime)
            except OSError:
                continue
        yield gauge(
            "newswarc_upload_backlog_files", "Closed files waiting for upload", len(pending)
        )
        yield gauge(
            "newswarc_upload_backlog_bytes",
            "Bytes of closed files waiting for upload",
            sum(s.size for s in pending),
        )
        yield gauge(
            "newswarc_upload_oldest_pending_age_seconds",
            "Age of the oldest file waiting for upload (0: none)",
            round(oldest, 3),
        )
        yield counter(
            "newswarc_upload_failed_attempts",
            "Upload attempts that failed (retried)",
            archive.uploader.counts.get("failed_attempts", 0),
        )
        yield counter(
            "newswarc_uploads_stored", "Files stored", archive.uploader.counts.get("stored", 0)
        )
        # Open WARC files are .open files in the spool (a killed run's stay until recovered).
        yield gauge(
            "newswarc_warc_files_open",
            "WARC files open in the spool",
            sum(1 for _ in archive.spool.glob("warc/*/*/*/*.warc.gz.open")),
        )

    def _distributed(self, gauge: Any, counter: Any, stats: dict[str, Any]) -> Iterator[Metric]:
        """Yield the shared queue's figures of the worker's run, read at scrape time (one call)."""
        worker = self.redis_worker
        if worker is None or self._redis is None:
            return
        import redis

        from crawler.enqueue import run_counts

        link = getattr(worker, "link", None)  # the worker's view of an outage, if it keeps one
        down_since = getattr(link, "since", None) if not getattr(link, "up", True) else None
        counts = None
        if down_since is None:  # known to be down: do not wait for it in a scrape
            try:
                counts = run_counts(self._redis, worker.root, worker.run)
            except redis.RedisError as exc:
                logger.debug("newswarc: metrics could not read the queue: %s", exc)
        yield gauge("newswarc_redis_up", "1 when Redis answered this scrape", float(bool(counts)))
        if link is not None:
            outage = time.monotonic() - down_since if down_since is not None else 0.0
            yield gauge(
                "newswarc_redis_outage_seconds",
                "How long this worker has been waiting for an unreachable Redis (0: it answers)",
                round(outage, 3),
            )
        if counts is not None:
            yield gauge(
                "newswarc_queue_requests",
                "Requests queued in the run's shared queue (every worker's)",
                counts["queued"],
            )
            yield gauge(
                "newswarc_queue_leases",
                "Requests leased by the run's workers, the cluster's",
                counts["leased"],
            )
            yield gauge(
                "newswarc_queue_leases_expired",
                "Leases run out and not yet put back into the queue (a worker died or hangs)",
                counts["expired"],
            )
            yield gauge("newswarc_queue_workers", "Workers in the run", counts["workers"])
        scheduler = getattr(worker, "scheduler", None)
        yield gauge(
            "newswarc_worker_leases",
            "Requests this worker holds under a lease",
            len(getattr(scheduler, "held", ())),
        )
        for name, doc, key in _LEASE_COUNTERS:
            yield counter(name, doc, stats.get(key, 0))

    def _extraction_summary(self) -> Metric:
        with self._lock:
            window = sorted(self._durations)
            count, total = self._extract_count, self._extract_sum
        summary = Metric(
            "newswarc_extraction_duration_seconds",
            "Time from handing a page to the extraction workers to its result (queueing "
            "included); quantiles over the last pages",
            "summary",
        )
        for q in QUANTILES:
            value = window[min(len(window) - 1, int(q * len(window)))] if window else float("nan")
            summary.add_sample(summary.name, {"site": self.site, "quantile": str(q)}, value)
        summary.add_sample(summary.name + "_count", {"site": self.site}, count)
        summary.add_sample(summary.name + "_sum", {"site": self.site}, total)
        return summary

    def _quality(self, gauge: Any, by: Any, stats: dict[str, Any]) -> Iterator[Metric]:
        monitor = self.monitor
        if monitor is None:
            return
        q = monitor.run.summary(stats)
        yield gauge(
            "newswarc_site_extracted_articles", "Articles extracted this run", q["extracted"]
        )
        yield by(
            "newswarc_site_rejected_candidates",
            "Article candidates rejected this run, by reason",
            "reason",
            q["rejected"],
            "gauge",
        )
        yield by(
            "newswarc_site_missing_ratio",
            "Share of this run's articles without the field",
            "field",
            {
                name: q[f"missing_{name}_share"]
                for name in ("title", "date", "authors")
                if q[f"missing_{name}_share"] is not None
            },
            "gauge",
        )
        if q["median_words"] is not None:
            yield gauge(
                "newswarc_site_median_words", "Median words of this run's texts", q["median_words"]
            )
            yield gauge(
                "newswarc_site_short_text_ratio",
                f"Share of this run's texts under {q['short_words']} words",
                q["short_share"],
            )
            yield gauge(
                "newswarc_site_cleaned_ratio",
                "Share of this run's articles the cleaner cut blocks from",
                q["cleaned_share"],
            )
        yield by(
            "newswarc_site_quality_alerts",
            "Quality alerts this run raised, by level",
            "level",
            {
                level: sum(a.level == level for a in monitor.alerts)
                for level in ("WARNING", "CRITICAL")
            },
            "gauge",
        )
