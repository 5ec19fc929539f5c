"""All wiring of the crawler; environment modules import this and override a few values."""

from __future__ import annotations

import os

from pipelines import __version__

# Scrapy's cookie middleware builds a tldextract instance at import time that downloads the
# Public Suffix List on first use; use the list bundled with tldextract instead, so no crawl
# makes a request to a host it was not asked to crawl.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

BOT_NAME = "newswarc"  # Scrapy default: "scrapybot"
SPIDER_MODULES = ["crawler.spiders"]  # Scrapy default: []
NEWSPIDER_MODULE = "crawler.spiders"  # Scrapy default: ""

# --- Politeness and identity -----------------------------------------------------------------
NEWSWARC_CONTACT = os.environ.get("NEWSWARC_CONTACT", "https://github.com/newswarc/newswarc")
# Scrapy default: "Scrapy/VERSION (+https://scrapy.org)". Site owners must be able to reach us.
USER_AGENT = f"newswarc/{__version__} (+{NEWSWARC_CONTACT})"
ROBOTSTXT_OBEY = True  # Scrapy default: False
AUTOTHROTTLE_ENABLED = True  # Scrapy default: False
AUTOTHROTTLE_START_DELAY = 1.0  # Scrapy default: 5.0
AUTOTHROTTLE_MAX_DELAY = 30.0  # Scrapy default: 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0  # Scrapy default: 1.0
CONCURRENT_REQUESTS = 32  # Scrapy default: 16 (many sites at once in scheduled jobs)
CONCURRENT_REQUESTS_PER_DOMAIN = 4  # Scrapy default: 8
# One item per page: fewer items in flight keep the extraction workers fed without a backlog.
CONCURRENT_ITEMS = 10  # Scrapy default: 100

# --- Robustness ------------------------------------------------------------------------------
DOWNLOAD_TIMEOUT = 30  # Scrapy default: 180
DNS_TIMEOUT = 15  # Scrapy default: 60
# Scrapy default: "scrapy.resolver.CachingThreadedResolver" (IPv4 only). Caching, IPv4 and IPv6,
# and only addresses NEWSWARC_ALLOWED_NETWORKS allows reach Twisted: checked where it connects.
TWISTED_DNS_RESOLVER = "crawler.netguard.GuardedResolver"
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024  # Scrapy default: 1 GiB; no news page is that big
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024  # Scrapy default: 32 MiB
# Scrapy default: True (a body cut by its connection is dropped, nothing archived). False: it is
# archived as far as it came (WARC-Truncated: disconnect), retried, and never made an article.
DOWNLOAD_FAIL_ON_DATALOSS = False
RETRY_ENABLED = True  # Scrapy default: True
RETRY_TIMES = 2  # Scrapy default: 2
DEPTH_LIMIT = 2  # Scrapy default: 0 (unlimited); listing -> section -> article
DEPTH_PRIORITY = 1  # Scrapy default: 0; breadth-first finds today's articles first
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"  # Scrapy default: LIFO
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"  # Scrapy default: LIFO
REDIRECT_MAX_TIMES = 10  # Scrapy default: 20

# --- Attack surface --------------------------------------------------------------------------
# Scrapy 2.19 starts a remote-control server that runs Python code sent to it (token under the
# home folder); a crawler fetching untrusted pages on a shared host should not listen at all.
REMOTE_CONTROL_ENABLED = False  # Scrapy default: True
TELNETCONSOLE_ENABLED = False  # Scrapy default: True

# --- Components ------------------------------------------------------------------------------
EXTENSIONS = {
    "crawler.extensions.ArchiveExtension": 100,  # Scrapy default: {}
    # Hostile and broken responses by reason: logged, counted, first URLs in the manifest.
    "crawler.problems.ProblemLog": 110,
    # Extraction quality per run and site, judged against the site's history (Spidermon suite).
    "crawler.monitors.QualityExtension": 120,
    # Prometheus endpoint and textfile; off unless NEWSWARC_METRICS_PORT or _TEXTFILE_DIR is set.
    "crawler.metrics.CrawlMetrics": 130,
}
DOWNLOADER_MIDDLEWARES = {
    # After OffsiteMiddleware (50), before RobotsTxtMiddleware (100): a refused host gets no
    # robots.txt request either; IP literals in any spelling, localhost.
    "crawler.netguard.PrivateAddressMiddleware": 60,
    # Above HttpCacheMiddleware (900): sees bodies still content-encoded, redirects and errors.
    "crawler.middlewares.WarcCaptureMiddleware": 950,  # Scrapy default: {}
    # Below the capture, above HttpCompressionMiddleware (590): bodies cut at the size and time
    # limits (kept, archived as truncated), lost connections, bombs, cut gzip/brotli streams.
    "crawler.limits.DownloadLimitsMiddleware": 940,
    # Above RedirectMiddleware (600): loops and over-long chains named before they are dropped.
    "crawler.redirects.RedirectCheckMiddleware": 930,
    # Above RetryMiddleware (550): 429/503 Retry-After waited for, up to a cap.
    "crawler.retry.RetryAfterMiddleware": 920,
    # Below HttpCompressionMiddleware (590): decoded pages, binary or not HTML, bad charsets.
    "crawler.content.ContentCheckMiddleware": 585,
    # Below RetryMiddleware (550): a download given up on is one line with a reason, not a
    # traceback.
    "crawler.retry.GiveUpMiddleware": 540,
    # Next to the downloader: lookups the resolver refused are reported and not retried, a
    # response from a refused address is dropped before it is archived.
    "crawler.netguard.ConnectedAddressMiddleware": 990,
}
ITEM_PIPELINES = {
    "pipelines.extraction.ExtractionPipeline": 300,  # Scrapy default: {}
    "pipelines.articles.ArticleBatchPipeline": 800,
    # After the record is complete (version, previous): counts schema errors, drops nothing.
    # Spidermon's ItemValidationPipeline with its validator built once (crawler/monitors.py).
    "crawler.monitors.SchemaValidationPipeline": 810,
}
# Spidermon: only its item validation and our suite (crawler/monitors.py), not its extension.
SPIDERMON_ENABLED = True  # Spidermon default: False (its pipeline passes items through)
SPIDERMON_VALIDATION_SCHEMAS = [
    os.path.join(os.path.dirname(os.path.dirname(__file__)), "pipelines/schema/article.schema.json")
]
SPIDERMON_MAX_ITEM_VALIDATION_ERRORS = 0  # Spidermon default: none (its monitor refuses to run)
SPIDER_MIDDLEWARES: dict[str, int] = {}  # Scrapy default: {}
# NEWSWARC_REDIS_URL switches any environment to settings/distributed.py's wiring.
ADDONS = {"crawler.distributed.DistributedAddon": 0}  # Scrapy default: {}
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"  # Scrapy default: same
LOG_LEVEL = "INFO"  # Scrapy default: "DEBUG"
# Scrapy default: "scrapy.logformatter.LogFormatter", which prints whole items, bodies included.
LOG_FORMATTER = "crawler.logformatter.NewsLogFormatter"
DEFAULT_DROPITEM_LOG_LEVEL = "WARNING"  # Scrapy default: "WARNING"
FEED_EXPORT_ENCODING = "utf-8"  # Scrapy default: None (ASCII escapes)

# --- newswarc --------------------------------------------------------------------------------
# Where everything goes: a folder, file:// URI or s3://bucket/prefix (env ARCHIVE_URI).
NEWSWARC_ARCHIVE_URI = os.environ.get("ARCHIVE_URI", "./archive")
NEWSWARC_SPOOL_DIR = os.environ.get("NEWSWARC_SPOOL_DIR") or None  # default: see README
NEWSWARC_SPOOL_MIN_FREE = 256 * 1024 * 1024  # bytes free in the spool below which a crawl stops
NEWSWARC_CRAWL_ID = None  # default: a new id per run, YYYYMMDDThhmmssZ-xxxxxx
NEWSWARC_WARC_PREFIX = "newswarc"
NEWSWARC_WARC_VERSION = "1.0"  # "1.1" for microsecond dates; 1.0 for the oldest readers
NEWSWARC_WARC_MAX_SIZE = 10**9  # bytes, as Heritrix and Common Crawl
NEWSWARC_WARC_MAX_AGE = 3600.0  # seconds a WARC file stays open in a quiet crawl
NEWSWARC_WARC_GZIP_LEVEL = 6  # 9 is ~40 % slower for 2 % smaller files
NEWSWARC_ROLL_CHECK_INTERVAL = 30.0  # seconds between age checks of open files
NEWSWARC_ARTICLES_BATCH_ITEMS = 1000
NEWSWARC_ARTICLES_BATCH_BYTES = 64 * 1024 * 1024
NEWSWARC_ARTICLES_BATCH_AGE = 600.0
NEWSWARC_UPLOAD_MIN_BACKOFF = 1.0
NEWSWARC_UPLOAD_MAX_BACKOFF = 60.0
NEWSWARC_UPLOAD_CLOSE_TIMEOUT = 600.0  # seconds the crawl waits at the end for uploads
NEWSWARC_S3_VERIFY_ETAG = True  # turn off for stores whose ETag is not an MD5 (SSE-KMS)
# An unreachable store at start is a config error (CRITICAL, exit 1); True: spool and upload
# when it answers (scheduled jobs). Wrong credentials or a missing bucket still stop the crawl.
NEWSWARC_START_OFFLINE = False
# Request headers whose value WARC request records replace by a marker (scheme kept).
NEWSWARC_REDACT_HEADERS = ["Authorization", "Proxy-Authorization"]
NEWSWARC_EXTRACT_WORKERS = 0  # 0: one per CPU core
NEWSWARC_EXTRACT_MAX_TASKS_PER_CHILD = 2000  # recycle workers so memory cannot creep
# A page that holds its worker this long is retried once in a new worker, then fails (timeout).
NEWSWARC_EXTRACT_STALL_TIMEOUT = 120.0  # seconds
NEWSWARC_MIN_TEXT_CHARS = 400  # shorter discovered pages are not articles
NEWSWARC_FOLLOW_ARTICLE_LINKS = False  # follow links found on article pages, not only listings
# Hostile servers (README "Hostile and broken servers"). DOWNLOAD_MAXSIZE caps a body on the
# wire and decoded; what came before a cut is archived (WARC-Truncated: length or time).
NEWSWARC_DOWNLOAD_TIME_LIMIT = 20.0  # seconds per download, below DOWNLOAD_TIMEOUT (the backstop)
NEWSWARC_ROBOTSTXT_MAX_BYTES = 500 * 1024  # the first 500 KiB are read, as Google does
NEWSWARC_ROBOTSTXT_TIMEOUT = 10.0  # seconds; the site's requests wait for its robots.txt
NEWSWARC_RETRY_AFTER_MAX = 120.0  # seconds of Retry-After waited for; longer: URL given up
NEWSWARC_PROBLEM_URLS = 100  # URLs named per problem reason in the manifest (counts are exact)
# Networks allowed despite being loopback, private, link-local or reserved (CIDRs, e.g.
# "10.0.0.0/8" for an intranet); every other non-public address is refused. See README.
NEWSWARC_ALLOWED_NETWORKS: list[str] = []
NEWSWARC_RECRAWL_HOURS = 0.0  # crawls without a site config: refetch known articles this young
# Distributed crawl (README "Distributed crawling"): unset, the crawl is one process.
NEWSWARC_REDIS_URL = os.environ.get("NEWSWARC_REDIS_URL") or None
NEWSWARC_STATE_BACKEND = "sqlite"  # "redis": the crawl state in NEWSWARC_REDIS_URL's database
# Metrics (README "Operating many sites"): an HTTP endpoint (0: off) and/or a textfile folder.
NEWSWARC_METRICS_PORT = 0
NEWSWARC_METRICS_ADDR = "127.0.0.1"  # what the endpoint binds to; "0.0.0.0" exposes it
NEWSWARC_METRICS_TEXTFILE_DIR = os.environ.get("NEWSWARC_METRICS_TEXTFILE_DIR") or None
NEWSWARC_METRICS_WINDOW = 1000  # pages the extraction-time quantiles are taken over
# Quality monitors: thresholds override pipelines.quality.Thresholds ({"words_drop_warning": 0.5}).
NEWSWARC_QUALITY_ENABLED = True
NEWSWARC_QUALITY_THRESHOLDS: dict[str, float] = {}
NEWSWARC_ALERTS_FILE = os.environ.get("NEWSWARC_ALERTS_FILE") or None  # set by `newswarc schedule`

# Scrapy's own AWS settings feed the S3 storage when set; otherwise boto3's standard chain
# (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ~/.aws/...) applies.
AWS_ENDPOINT_URL = os.environ.get("AWS_ENDPOINT_URL") or None
AWS_REGION_NAME = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
