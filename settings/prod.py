"""Production: archive on S3 (``ARCHIVE_URI=s3://…``), gentler politeness, patient uploads."""

from settings.base import *  # noqa: F403

CONCURRENT_REQUESTS_PER_DOMAIN = 2  # base: 4
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0  # base: 2.0
NEWSWARC_UPLOAD_CLOSE_TIMEOUT = 1800.0  # base: 600; a slow store must not strand the last file
