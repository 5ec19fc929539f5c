"""Tests: the local test site on 127.0.0.1, no throttling, short timeouts."""

from settings.base import *  # noqa: F403

AUTOTHROTTLE_ENABLED = False  # base: True; the test site is local
DOWNLOAD_TIMEOUT = 10  # base: 30
RETRY_TIMES = 1  # base: 2
CONCURRENT_REQUESTS_PER_DOMAIN = 16  # base: 4
NEWSWARC_UPLOAD_MIN_BACKOFF = 0.2  # base: 1.0
NEWSWARC_UPLOAD_MAX_BACKOFF = 2.0  # base: 60.0
NEWSWARC_UPLOAD_CLOSE_TIMEOUT = 60.0  # base: 600.0
NEWSWARC_EXTRACT_WORKERS = 2  # base: one per core
NEWSWARC_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # base: []; the local test site, nothing else
