"""Everything after download: extraction, article JSON, WARC files, storage and the reader."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("newswarc")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.1.0"
