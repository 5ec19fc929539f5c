"""Distributed crawl: frontier, seen set and crawl state in Redis (``NEWSWARC_REDIS_URL``)."""

from settings.base import *  # noqa: F403
from settings.base import DOWNLOADER_MIDDLEWARES, EXTENSIONS, SPIDER_MIDDLEWARES, os

# redis://[:password@]host:port/db. Set in any environment, this variable alone switches it to
# this wiring (crawler.distributed.DistributedAddon); SCRAPY_PROJECT=distributed does too.
NEWSWARC_REDIS_URL = os.environ.get("NEWSWARC_REDIS_URL") or "redis://127.0.0.1:6379/0"
# base: Scrapy's scheduler. scrapy-redis's, with leases (crawler/redisqueue.py).
SCHEDULER = "crawler.redisqueue.LeaseScheduler"
# base: Scrapy's RFPDupeFilter. scrapy-redis's, one seen set per run in Redis.
DUPEFILTER_CLASS = "scrapy_redis.dupefilter.RFPDupeFilter"
SCHEDULER_PERSIST = True  # scrapy-redis default: False; a worker leaving keeps the queue
NEWSWARC_STATE_BACKEND = "redis"  # base: "sqlite"; one state for every worker
EXTENSIONS = {
    **EXTENSIONS,
    # Before ArchiveExtension (100): a bad Redis URL is the one CRITICAL line, not the state's.
    "crawler.distributed.RedisWorker": 90,
}
SPIDER_MIDDLEWARES = {
    **SPIDER_MIDDLEWARES,
    "crawler.distributed.SeedOnce": 10,  # only the run's first worker sends start requests
}
DOWNLOADER_MIDDLEWARES = {
    **DOWNLOADER_MIDDLEWARES,
    # Last before the download (ConnectedAddressMiddleware 990 aside): a host slot is held only
    # while the request is on the wire; per host for the whole cluster, robots Crawl-delay too.
    "crawler.politeness.ClusterPolitenessMiddleware": 980,
}
# Downloads per host across all workers (0: CONCURRENT_REQUESTS_PER_DOMAIN); DOWNLOAD_DELAY
# and robots.txt Crawl-delay hold across the cluster too.
NEWSWARC_REDIS_HOST_CONCURRENCY = 0
NEWSWARC_REDIS_PREFIX = "newswarc"  # keys: PREFIX:run:RUN:requests, …:leases, …:dupefilter
NEWSWARC_REDIS_RUN = None  # default: named by the spider's arguments
# A taken request goes back to the queue this long after its worker stopped renewing it.
NEWSWARC_REDIS_LEASE_TIMEOUT = 60.0
# Seconds a worker waits (with back-off, logged) for a Redis that stopped answering mid-crawl.
NEWSWARC_REDIS_PATIENCE = 120.0
NEWSWARC_REDIS_POLL_INTERVAL = 1.0  # seconds between looks at the queue while there is no work
NEWSWARC_REDIS_CLOSE_WHEN_DONE = True  # False: a worker idles until stopped
