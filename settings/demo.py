"""``make demo``: the bundled demo news site, archived into ``./archive``."""

from settings.base import *  # noqa: F403

AUTOTHROTTLE_ENABLED = False  # base: True; the demo site runs on this machine
CONCURRENT_REQUESTS_PER_DOMAIN = 8  # base: 4
NEWSWARC_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # base: []; the demo site on this machine only
