"""Spiders of the newswarc project."""
