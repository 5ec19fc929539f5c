"""Local test news site: ``NewsSite`` HTTP server and ``load_expected`` fixture data."""

from __future__ import annotations

from .server import NewsSite, load_expected

__all__ = ["NewsSite", "load_expected"]
