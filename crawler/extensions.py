"""The crawl's archive: storage checked at start, spool recovery, WARC writer, uploads, manifest."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import secrets
import shutil
import socket
import sqlite3
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet import task, threads

from crawler.problems import problem_report
from crawler.redaction import REDACTED_HEADERS, collect, install_log_redaction, without_userinfo
from pipelines import __version__
from pipelines.spool import ClosedFile, SpoolFile, recover
from pipelines.state import StateError, StateStore, open_state
from pipelines.storage import (
    FileStorage,
    S3Options,
    Storage,
    StorageError,
    StorageUnreachable,
    storage_from_uri,
)
from pipelines.uploader import Uploader
from pipelines.warcfile import Exchange, RecordPointer, WarcRoller

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.spiders import Spider

logger = logging.getLogger(__name__)

#: Settings recorded in every manifest: what decides what a crawl fetched and kept.
MANIFEST_SETTINGS = (
    "BOT_NAME",
    "USER_AGENT",
    "ROBOTSTXT_OBEY",
    "DEPTH_LIMIT",
    "CONCURRENT_REQUESTS",
    "CONCURRENT_REQUESTS_PER_DOMAIN",
    "DOWNLOAD_DELAY",
    "AUTOTHROTTLE_ENABLED",
    "DOWNLOAD_TIMEOUT",
    "DOWNLOAD_MAXSIZE",
    "RETRY_TIMES",
    "NEWSWARC_WARC_VERSION",
    "NEWSWARC_WARC_MAX_SIZE",
    "NEWSWARC_WARC_MAX_AGE",
    "NEWSWARC_MIN_TEXT_CHARS",
    "NEWSWARC_ARTICLES_BATCH_ITEMS",
)


class ArchiveConfigError(Exception):
    """The archive cannot be used; raised at start so the crawl stops before fetching anything."""


class _AlreadyReported(logging.Filter):
    """Drop asyncio's "Task exception was never retrieved" for a start-up error already logged.

    The one CRITICAL line names the problem; a traceback of Scrapy's internals after it would
    only bury it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is None and isinstance(record.args, dict):
            error = record.args.get("exception")
        return (
            not isinstance(error, ArchiveConfigError)
            and getattr(error, "newswarc_reported", False) is False
        )


logging.getLogger("asyncio").addFilter(_AlreadyReported())


def new_crawl_id(now: datetime | None = None) -> str:
    """Return a sortable, unique crawl id such as ``20261129T154000Z-3f9a1c``."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def storage_from_settings(settings: BaseSettings) -> Storage:
    """Build the storage named by ``NEWSWARC_ARCHIVE_URI`` with Scrapy's ``AWS_*`` settings."""
    options = S3Options(
        endpoint_url=settings.get("AWS_ENDPOINT_URL") or None,
        region=settings.get("AWS_REGION_NAME") or None,
        access_key_id=settings.get("AWS_ACCESS_KEY_ID") or None,
        secret_access_key=settings.get("AWS_SECRET_ACCESS_KEY") or None,
        session_token=settings.get("AWS_SESSION_TOKEN") or None,
        verify_etag=settings.getbool("NEWSWARC_S3_VERIFY_ETAG", True),
    )
    # ARCHIVE_URI is accepted as a setting too: `-s ARCHIVE_URI=…` must not be ignored silently.
    uri = settings.get("ARCHIVE_URI") or settings.get("NEWSWARC_ARCHIVE_URI") or "./archive"
    return storage_from_uri(str(uri), s3=options)


def default_spool(storage: Storage, configured: str | None) -> Path:
    """Return the spool folder.

    The setting if given; else ``.spool`` inside a local archive; else a folder per archive URI
    under ``$XDG_STATE_HOME/newswarc/spool`` (``~/.local/state``), the same whatever the working
    folder, so the next run finds what a killed one left.
    """
    if configured:
        return Path(configured).expanduser().absolute()
    if isinstance(storage, FileStorage):
        return storage.root / ".spool"
    # Readable, and unique per store: "s3://a-b/c" and "s3://a/b-c" must not share a spool.
    slug = "".join(c if c.isalnum() else "_" for c in storage.uri.removeprefix("s3://"))
    digest = hashlib.sha1(archive_identity(storage).encode(), usedforsecurity=False).hexdigest()
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state, "newswarc", "spool", f"{slug[:80]}-{digest[:10]}").absolute()


def archive_identity(storage: Storage) -> str:
    """Return what names an archive: its URI, and the endpoint for S3-compatible stores."""
    client = getattr(storage, "client", None)
    endpoint = getattr(getattr(client, "meta", None), "endpoint_url", None)
    return f"{storage.uri} at {without_userinfo(endpoint)}" if endpoint else storage.uri


def claim_spool(spool: Path, storage: Storage) -> None:
    """Mark the spool as this archive's, or refuse one that belongs to another archive.

    Raises:
        StorageError: the spool holds files of another archive (they would be uploaded there).

    """
    marker = spool / ".archive"
    identity = archive_identity(storage)
    if marker.exists():
        owner = marker.read_text("utf-8").strip()
        if owner != identity:
            raise StorageError(
                f"spool folder {spool} belongs to {owner}, not {identity}: "
                "set NEWSWARC_SPOOL_DIR to a folder of its own"
            )
        return
    tmp = spool / f".archive.{os.getpid()}"
    tmp.write_text(identity + "\n", "utf-8")
    os.replace(tmp, marker)


class ArchiveExtension:
    """Owns the crawl's archive; the capture middleware and the article pipeline write through it.

    At start it proves the storage is writable (a bad URI, missing bucket, wrong credentials or
    unwritable folder stops the crawl with one message), repairs what a killed run left in the
    spool and queues it for upload. At the end it closes the WARC file, waits for uploads, and
    writes the crawl's manifest and summary.
    """

    def __init__(
        self,
        crawler: Crawler,
        storage: Storage,
        spool: Path,
        *,
        state: StateStore,
        crawl_id: str,
        upload_timeout: float,
        backoff: tuple[float, float],
        warc_options: dict[str, Any],
        roll_check_interval: float,
        min_free: int = 0,
        started_offline: bool = False,
        redact_headers: tuple[str, ...] = REDACTED_HEADERS,
    ) -> None:
        self.crawler = crawler
        self.started_offline = started_offline
        self.redactor = install_log_redaction()
        self.redact_headers = redact_headers
        self.storage = storage
        self.spool = spool
        self.state = state
        self.crawl_id = crawl_id
        self.upload_timeout = upload_timeout
        self.started = datetime.now(UTC)
        self.uploader = Uploader(storage, min_backoff=backoff[0], max_backoff=backoff[1])
        self.recovered: list[str] = []
        self.closers: list[Callable[[], object]] = []
        warc_options = {**warc_options, "info": self.redactor.data(warc_options.get("info") or {})}
        self.warc = WarcRoller(
            spool,
            uri_for=storage.uri_for,
            publish=self.publish,
            **warc_options,
        )
        self._roll_timer = task.LoopingCall(self._tick)
        self._roll_check_interval = roll_check_interval
        self.min_free = min_free
        self._tickers: list[Callable[[], object]] = [self.warc.roll_if_stale]
        #: Extra manifest fields (quality monitors): each returns a dict merged into the manifest.
        self.manifest_parts: list[Callable[[], dict[str, Any]]] = []
        #: Called with the stored manifest (metrics: the textfile written at the end of a run).
        self.after_manifest: list[Callable[[dict[str, Any]], object]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveExtension:
        settings = crawler.settings
        if not settings.getbool("NEWSWARC_ENABLED", True):
            raise NotConfigured
        # Before anything is logged about the storage, and before Scrapy logs the overridden
        # settings (after the extensions are built): no secret of the operator in any of it.
        redactor = install_log_redaction()
        spider = crawler.spider
        redactor.add(
            collect(settings, spider=spider, arguments=getattr(spider, "newswarc_args", None))
        )
        start_offline = settings.getbool("NEWSWARC_START_OFFLINE", False)
        offline = False
        try:
            storage = storage_from_settings(settings)
            redactor.add(getattr(storage, "secrets", list)())
            try:
                storage.check()
            except StorageUnreachable as exc:
                if not start_offline:
                    raise
                offline = True
                logger.warning(
                    "newswarc: %s; starting anyway (NEWSWARC_START_OFFLINE): files wait in the "
                    "spool and are uploaded when the store answers",
                    exc,
                )
            spool = default_spool(storage, settings.get("NEWSWARC_SPOOL_DIR"))
            try:
                spool.mkdir(parents=True, exist_ok=True)
                claim_spool(spool, storage)
            except OSError as exc:
                raise StorageError(f"spool folder {spool} is not writable: {exc}") from exc
            crawl_id = settings.get("NEWSWARC_CRAWL_ID") or new_crawl_id()
            state_path = Path(settings.get("NEWSWARC_STATE_PATH") or spool / ".crawlstate.sqlite")
            try:
                # SQLite in the spool (one process), or Redis shared by workers (distributed).
                state = open_state(
                    str(settings.get("NEWSWARC_STATE_BACKEND") or "sqlite"),
                    state_path.expanduser(),
                    settings.get("NEWSWARC_REDIS_URL") or None,
                )
            except (sqlite3.Error, StateError) as exc:
                raise StorageError(f"crawl state {state_path} is unusable: {exc}") from exc
            if settings.get("NEWSWARC_CRAWL_ID") and offline:
                logger.warning("newswarc: store unreachable, crawl id %s not checked", crawl_id)
            elif settings.get("NEWSWARC_CRAWL_ID") and storage.exists(f"crawls/{crawl_id}.json"):
                raise StorageError(f"crawl id {crawl_id} was already used in {storage.uri}")
        except StorageError as exc:
            logger.critical("newswarc: archive unusable, crawl not started: %s", exc)
            raise ArchiveConfigError(str(exc)) from None
        user_agent = settings.get("USER_AGENT", "")
        ext = cls(
            crawler,
            storage,
            spool,
            state=state,
            crawl_id=crawl_id,
            upload_timeout=settings.getfloat("NEWSWARC_UPLOAD_CLOSE_TIMEOUT", 600.0),
            backoff=(
                settings.getfloat("NEWSWARC_UPLOAD_MIN_BACKOFF", 1.0),
                settings.getfloat("NEWSWARC_UPLOAD_MAX_BACKOFF", 60.0),
            ),
            warc_options={
                "prefix": settings.get("NEWSWARC_WARC_PREFIX", "newswarc"),
                "max_size": settings.getint("NEWSWARC_WARC_MAX_SIZE", 10**9),
                "max_age": settings.getfloat("NEWSWARC_WARC_MAX_AGE", 3600.0),
                "warc_version": str(settings.get("NEWSWARC_WARC_VERSION", "1.0")),
                "gzip_level": settings.getint("NEWSWARC_WARC_GZIP_LEVEL", 6),
                "info": {
                    "software": f"newswarc/{__version__} (Scrapy)",
                    "isPartOf": crawl_id,
                    "operator": settings.get("NEWSWARC_CONTACT", ""),
                    "http-header-user-agent": user_agent,
                    "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
                },
            },
            roll_check_interval=settings.getfloat("NEWSWARC_ROLL_CHECK_INTERVAL", 30.0),
            min_free=settings.getint("NEWSWARC_SPOOL_MIN_FREE", 256 * 1024 * 1024),
            started_offline=offline,
            redact_headers=tuple(
                settings.getlist("NEWSWARC_REDACT_HEADERS", list(REDACTED_HEADERS))
            ),
        )
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    # -- services for the middleware and pipelines --------------------------------------

    def publish(self, closed: ClosedFile) -> None:
        """Queue a closed spool file for upload and count it."""
        state = self.uploader.submit(closed)
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value(f"newswarc/files/{state.kind}")
            stats.inc_value(f"newswarc/files/{state.kind}_bytes", state.size)

    def write_capture(self, exchange: Exchange) -> RecordPointer:
        """Write one request/response pair to the current WARC file.

        The request headers keep every header as sent, except the operator's secrets:
        ``Authorization`` and ``Proxy-Authorization`` (``NEWSWARC_REDACT_HEADERS``) keep only
        their scheme, and any configured secret inside another header (a ``Cookie`` value set
        in ``DEFAULT_REQUEST_HEADERS``) is replaced by the marker.
        """
        exchange.request_headers = self.redactor.headers(
            exchange.request_headers, self.redact_headers
        )
        return self.warc.write(exchange)

    def add_ticker(self, func: Callable[[], object]) -> None:
        """Run ``func`` on the periodic timer (age-based rollover of other writers)."""
        self._tickers.append(func)

    def _tick(self) -> None:
        for func in self._tickers:
            try:
                func()
            except Exception:
                # One failure (a full disk at close) must not stop the timer for good.
                logger.exception("newswarc: periodic %s failed", getattr(func, "__name__", func))
        self._check_free_space()

    def _check_free_space(self) -> None:
        if not self.min_free:
            return
        free = shutil.disk_usage(self.spool).free
        if free < self.min_free and self.crawler.engine is not None:
            # Fetching more would only fetch what cannot be archived.
            logger.critical(
                "newswarc: %d bytes free in the spool %s (minimum %d): stopping the crawl",
                free,
                self.spool,
                self.min_free,
            )
            self._roll_timer.stop()
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="newswarc_spool_full"))

    # -- lifecycle ----------------------------------------------------------------------

    def spider_opened(self, spider: Spider) -> None:
        self._roll_timer.start(self._roll_check_interval, now=False)
        for closed in recover(self.spool):
            try:
                self.publish(closed)
            except OSError as exc:  # one unreadable leftover must not stop the others
                logger.error("Leftover %s not queued for upload: %s", closed.path, exc)
                continue
            logger.info("Recovered %s from an earlier run; uploading it", closed.path)
            self.recovered.append(closed.key)
        if self.crawler.stats is not None:
            self.crawler.stats.set_value("newswarc/crawl_id", self.crawl_id)
            self.crawler.stats.set_value("newswarc/files/recovered", len(self.recovered))
        logger.info(
            "newswarc crawl %s archiving to %s (spool %s)",
            self.crawl_id,
            self.storage.uri,
            self.spool,
        )

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        if self._roll_timer.running:
            self._roll_timer.stop()
        self.warc.close()
        pending = await maybe_deferred_to_future(
            threads.deferToThread(self.uploader.close, self.upload_timeout)
        )
        # Redacted whole: arguments, settings, errors and file names carry no secret.
        manifest = self.redactor.data(self.manifest(reason, pending=[p.key for p in pending]))
        self.state.close()
        await maybe_deferred_to_future(threads.deferToThread(self._store_manifest, manifest))
        logger.info("%s", format_summary(manifest))
        for func in self.after_manifest:
            try:
                func(manifest)
            except Exception:  # the archive is complete: a report failing must not hide that
                name = getattr(func, "__name__", "")
                logger.exception("newswarc: %s failed after the manifest", name)

    def _store_manifest(self, manifest: dict[str, Any]) -> None:
        key = f"crawls/{self.crawl_id}.json"
        # Through a spool file, locked from its creation: no other crawl's recovery takes it.
        spool_file = SpoolFile(self.spool, key, "application/json")
        spool_file.write(json.dumps(manifest, indent=2, ensure_ascii=False).encode() + b"\n")
        closed = spool_file.close()
        try:
            self.storage.store_file(closed.path, key, content_type="application/json")
        except Exception as exc:  # the manifest stays in the spool for the next run
            logger.error("Manifest %s kept in the spool, upload failed: %s", closed.path, exc)
        finally:
            closed.release()

    def manifest(self, reason: str, *, pending: list[str]) -> dict[str, Any]:
        """Return the crawl's manifest: counts, failures, settings, versions, files."""
        stats = self.crawler.stats.get_stats() if self.crawler.stats is not None else {}
        settings = self.crawler.settings
        spider = self.crawler.spider
        files = [
            {
                "key": s.key,
                "uri": s.uri,
                "bytes": s.size,
                "status": s.status,
                "attempts": s.attempts,
                **({"error": s.error} if s.error else {}),
            }
            for s in self.uploader.files.values()
        ]
        return {
            "crawl_id": self.crawl_id,
            "spider": getattr(spider, "name", None),
            "arguments": getattr(spider, "newswarc_args", {}),
            "started_offline": self.started_offline,
            "archive_uri": self.storage.uri,
            "started": self.started.isoformat(),
            "finished": datetime.now(UTC).isoformat(),
            "finish_reason": reason,
            "duration_seconds": round((datetime.now(UTC) - self.started).total_seconds(), 3),
            "site": _site_of(spider),
            "host": socket.gethostname(),
            "counts": crawl_counts(stats, self.warc.stats.records, len(pending)),
            "errors": {
                k.removeprefix("downloader/exception_type_count/"): v
                for k, v in stats.items()
                if k.startswith("downloader/exception_type_count/")
            }
            | {
                k.removeprefix("newswarc/errors/"): v
                for k, v in stats.items()
                if k.startswith("newswarc/errors/")
            },
            "skipped": skipped_counts(stats),
            # Hostile and broken responses: count and first URLs per reason (crawler/problems.py).
            "problems": problem_report(self.crawler),
            "settings": {name: settings.get(name) for name in MANIFEST_SETTINGS},
            "software": software_versions(),
            "recovered_files": self.recovered,
            "pending_uploads": pending,
            "files": files,
        } | self._manifest_parts()

    def _manifest_parts(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for part in self.manifest_parts:
            try:
                out.update(part())
            except Exception:  # a monitor failing must not cost the crawl its manifest
                logger.exception("newswarc: manifest part %s failed", getattr(part, "__name__", ""))
        return out


def _site_of(spider: Any) -> dict[str, Any] | None:
    """Return the site config a crawl ran with: name, file and a digest of its content."""
    site = getattr(spider, "site", None)
    if site is None:
        return None
    data = site.path.read_bytes()
    return {
        "name": site.name,
        "config": str(site.path),
        "config_sha256": hashlib.sha256(data).hexdigest(),
    }


def crawl_counts(stats: dict[str, Any], warc_records: int, pending: int) -> dict[str, int]:
    """Return the headline figures of a crawl, from Scrapy's stats."""
    files = stats.get("newswarc/files/warc", 0)
    return {
        "discovered": sum(
            v
            for k, v in stats.items()
            if k.startswith("newswarc/discovery/") and k.endswith("_entries")
        ),
        "requests": stats.get("downloader/request_count", 0),
        "pages_fetched": stats.get("downloader/response_count", 0),
        "failed": sum(
            v
            for k, v in stats.items()
            if k.startswith(("httperror/response_ignored_status_count/", "newswarc/errors/"))
        )
        + sum(v for k, v in stats.items() if k.startswith("downloader/exception_type_count/")),
        "captures": stats.get("newswarc/warc/captures", 0),
        "article_candidates": stats.get("newswarc/pages/article_candidates", 0),
        "articles_written": stats.get("newswarc/articles/written", 0),
        "articles_new": stats.get("newswarc/articles/new", 0),
        "articles_updated": stats.get("newswarc/articles/updated", 0),
        "articles_unchanged": stats.get("newswarc/articles/unchanged", 0),
        "revisits": stats.get("newswarc/warc/revisits", 0),
        "not_modified": stats.get("newswarc/discovery/not_modified", 0),
        "listings_not_modified": stats.get("newswarc/listings/not_modified", 0),
        "known_not_refetched": stats.get("newswarc/discovery/known", 0),
        "refetched_modified": stats.get("newswarc/discovery/modified", 0),
        "refetched_recrawl": stats.get("newswarc/discovery/recrawl", 0),
        "warc_files": files,
        "warc_bytes": stats.get("newswarc/files/warc_bytes", 0),
        "warc_records": warc_records,
        "article_batches": stats.get("newswarc/files/articles", 0),
        "uploads_pending": pending,
        "errors": sum(
            v
            for k, v in stats.items()
            if k.startswith(("downloader/exception_type_count/", "newswarc/errors/"))
        ),
    }


def skipped_counts(stats: dict[str, Any]) -> dict[str, int]:
    """Pages fetched but not written as articles, by reason."""
    out: dict[str, int] = {}
    for key, value in stats.items():
        if key.startswith("newswarc/skipped/"):
            out[key.removeprefix("newswarc/skipped/")] = value
        elif key in ("newswarc/discovery/too_old", "newswarc/discovery/not_wanted"):
            out[key.rsplit("/", 1)[1]] = value
        elif key.startswith("httperror/response_ignored_status_count/"):
            out[f"http_{key.rsplit('/', 1)[1]}"] = value
    if stats.get("robotstxt/forbidden"):
        out["robots_txt"] = stats["robotstxt/forbidden"]
    if stats.get("offsite/filtered"):
        out["offsite"] = stats["offsite/filtered"]
    return out


def software_versions() -> dict[str, str]:
    """Versions of everything that shapes the archive."""
    from importlib.metadata import version

    out = {"newswarc": __version__, "python": platform.python_version()}
    for name in ("scrapy", "trafilatura", "warcio", "boto3", "lxml"):
        try:
            out[name] = version(name)
        except Exception:
            out[name] = "unknown"
    out["platform"] = sys.platform
    return out


def format_summary(manifest: dict[str, Any]) -> str:
    """Return a crawl's end-of-run summary as readable lines."""
    c = manifest["counts"]
    lines = [
        f"newswarc crawl {manifest['crawl_id']} finished ({manifest['finish_reason']})",
        f"  pages fetched:   {c['pages_fetched']} ({c['requests']} requests)",
        f"  articles written: {c['articles_written']} of {c['article_candidates']} candidates",
        "  pages skipped:   "
        + (", ".join(f"{k} {v}" for k, v in sorted(manifest["skipped"].items())) or "none"),
        f"  WARC files:      {c['warc_files']} ({c['warc_bytes']} bytes, {c['captures']} captures)",
        f"  uploads:         {sum(f['status'] == 'stored' for f in manifest['files'])} stored, "
        f"{c['uploads_pending']} pending",
        "  errors:          "
        + (", ".join(f"{k} {v}" for k, v in sorted(manifest["errors"].items())) or "none"),
        "  problems:        "
        + (
            ", ".join(f"{k} {v['count']}" for k, v in sorted(manifest.get("problems", {}).items()))
            or "none"
        ),
        *_quality_lines(manifest),
        f"  archive:         {manifest['archive_uri']}",
        f"  manifest:        crawls/{manifest['crawl_id']}.json",
    ]
    return "\n".join(lines)


def _quality_lines(manifest: dict[str, Any]) -> list[str]:
    """Return the summary lines of the quality monitors (crawler/monitors.py), when they ran."""
    q = manifest.get("quality")
    if not isinstance(q, dict):
        return []

    def pct(key: str) -> str:
        return "-" if q.get(key) is None else f"{q[key]:.0%}"

    words = q.get("median_words")
    alerts = manifest.get("quality_alerts") or []
    return [
        f"  quality:         median words {'-' if words is None else f'{words:g}'}, "
        f"no title {pct('missing_title_share')}, no date {pct('missing_date_share')}, "
        f"no authors {pct('missing_authors_share')}, cleaned {pct('cleaned_share')}",
        "  quality alerts:  " + ("; ".join(f"{a['level']} {a['check']}" for a in alerts) or "none"),
    ]
