"""Default environment: a local folder archive (``./archive`` or ``$ARCHIVE_URI``)."""

from settings.base import *  # noqa: F403
