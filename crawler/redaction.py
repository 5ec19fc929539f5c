"""Operator secrets (S3 keys, Authorization, cookies, proxy passwords) kept out of what is kept."""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

#: What replaces a secret in logs, manifests, ``warcinfo`` and WARC request records.
MARKER = "[redacted-by-newswarc]"

#: Request headers whose value is always replaced in WARC request records (the auth scheme,
#: ``Basic`` or ``Bearer``, is kept): only the operator's configuration sets them.
REDACTED_HEADERS = ("Authorization", "Proxy-Authorization")

#: Secrets shorter than this are not searched for in free text (they would match everywhere);
#: headers named above are redacted whatever their length.
MIN_SECRET_CHARS = 6

#: Settings that hold a secret, whatever their value.
SECRET_SETTINGS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "HTTPAUTH_PASS",
)
_SECRET_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
)
_PROXY_ENV = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
#: Header or argument names that carry a secret.
_SECRET_NAME = re.compile(r"auth|cookie|token|secret|passw|pass$|api[-_]?key|session", re.I)


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode("latin-1", "replace")).decode()


def header_secrets(name: str, value: str) -> set[str]:
    """Return the secret parts of a request header the operator configured.

    A cookie's value is the secret, its name is kept (unless the value is too short to search
    for: then the whole pair).
    """
    if name.lower() == "cookie":
        found = set()
        for pair in value.split(";"):
            cookie = pair.partition("=")[2].strip()
            found.add(cookie if len(cookie) >= MIN_SECRET_CHARS else pair.strip())
        return found
    found = {value}
    if name.lower() in ("authorization", "proxy-authorization"):
        scheme, _, credentials = value.partition(" ")
        found.add(credentials or scheme)
        if scheme.lower() == "basic" and credentials:
            with contextlib.suppress(ValueError):
                found.add(base64.b64decode(credentials, validate=True).decode("latin-1"))
    return found


def url_secrets(url: str) -> set[str]:
    """Return the credentials of a URL's userinfo (``scheme://user:password@host``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return set()
    if parts.password is None and parts.username is None:
        return set()
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    found = {password, _basic(user, password), f"{user}:{password}"}
    if parts.username and parts.password:
        # The archive URI's s3://KEY:SECRET@bucket: the access key id is a secret too.
        found |= {user, parts.username, parts.password}
    return found


def without_userinfo(url: str) -> str:
    """Return ``url`` with any ``user:password@`` removed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def collect(
    settings: Any,
    *,
    spider: Any = None,
    arguments: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    extra: Iterable[str] = (),
) -> set[str]:
    """Gather every secret an operator can configure, from settings, spider and environment.

    Args:
        settings: the crawl's settings (anything with ``get``).
        spider: the spider; its ``http_user``/``http_pass`` attributes (Scrapy's HTTP auth).
        arguments: the spider's ``-a`` arguments; those named like a secret are secrets.
        environ: the environment (``os.environ`` by default): AWS keys, proxy passwords.
        extra: secrets found elsewhere (the S3 client's resolved credentials).

    """
    env = os.environ if environ is None else environ
    found: set[str] = set(extra)
    for name in SECRET_SETTINGS:
        value = settings.get(name)
        if value:
            found.add(str(value))
    user, password = settings.get("HTTPAUTH_USER") or "", settings.get("HTTPAUTH_PASS") or ""
    if user or password:
        found |= {_basic(str(user), str(password)), f"{user}:{password}"}
    for name in ("NEWSWARC_ARCHIVE_URI", "ARCHIVE_URI", "AWS_ENDPOINT_URL"):
        value = settings.get(name)
        if isinstance(value, str):
            found |= url_secrets(value)
    headers = settings.get("DEFAULT_REQUEST_HEADERS") or {}
    for name, value in dict(headers).items():
        if value and _SECRET_NAME.search(str(name)):
            found |= header_secrets(str(name), str(value))
    if spider is not None:
        user, password = getattr(spider, "http_user", ""), getattr(spider, "http_pass", "")
        if user or password:
            found |= {str(password), _basic(str(user), str(password)), f"{user}:{password}"}
    for name, value in (arguments or {}).items():
        if value and _SECRET_NAME.search(name):
            found.add(value)
        elif value and "@" in value:
            found |= url_secrets(value)
    for name in _SECRET_ENV:
        if env.get(name):
            found.add(env[name])
    for name in _PROXY_ENV:
        if env.get(name):
            found |= url_secrets(env[name])
    return {s for s in found if len(s) >= MIN_SECRET_CHARS}


class Redactor:
    """Replaces known secrets in text, data, headers and log records with :data:`MARKER`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Add secrets (short ones are ignored, see :data:`MIN_SECRET_CHARS`)."""
        self._secrets |= {s for s in secrets if len(s) >= MIN_SECRET_CHARS}
        if self._secrets:
            # Longest first, so a secret inside a longer one does not leave the rest behind.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def text(self, value: str) -> str:
        """Return ``value`` with every secret replaced."""
        if self._pattern is None or not value:
            return value
        return self._pattern.sub(MARKER, value)

    def data(self, value: Any) -> Any:
        """Return a copy of JSON-like data (dicts, lists, strings) with every secret replaced."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value

    def headers(
        self, headers: list[tuple[str, str]], names: Iterable[str] = REDACTED_HEADERS
    ) -> list[tuple[str, str]]:
        """Return request headers fit for an archive: ``names`` and secrets replaced."""
        redacted = {n.lower() for n in names}
        out = []
        for name, value in headers:
            if name.lower() in redacted:
                scheme, sep, _ = value.partition(" ")
                out.append((name, f"{scheme} {MARKER}" if sep else MARKER))
            else:
                out.append((name, self.text(value)))
        return out

    def record(self, record: logging.LogRecord) -> logging.LogRecord:
        """Redact a log record in place: its message, and its traceback once formatted."""
        if self._pattern is None:
            return record
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: logging reports it later, as usual
            return record
        clean = self.text(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = self.text(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = self.text(record.stack_info)
        return record


#: The process's redactor: every crawl in it adds its secrets; every log record passes it.
REDACTOR = Redactor()
_INSTALLED: list[bool] = []


def install_log_redaction() -> Redactor:
    """Make every log record of this process pass :data:`REDACTOR`, whatever its handler.

    A record factory rather than a handler filter: Scrapy replaces its root handler after the
    extensions are built, and a record reaches every handler (a ``LOG_FILE`` too) redacted.
    """
    if not _INSTALLED:
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return REDACTOR.record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _INSTALLED.append(True)
    return REDACTOR
