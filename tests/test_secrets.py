"""Operator secrets never reach logs, manifests, warcinfo, stats, WARC records or articles."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from crawler.redaction import MARKER, Redactor, collect, install_log_redaction, without_userinfo
from pipelines.storage import S3Storage, StorageError, storage_from_uri
from tests.archivecheck import check_warc_file, requests
from tests.crawlrun import read_jsonl_gz, run_crawl
from tests.s3server import ACCESS_KEY, SECRET_KEY, SeaweedS3
from tests.site import NewsSite


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:12]}"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def every_byte_kept(*folders: Path) -> dict[Path, bytes]:
    """Every file under ``folders``, gzip files decompressed (all members)."""
    out = {}
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                out[path] = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    return out


def leaks(secrets: dict[str, str], texts: dict[Any, bytes | str]) -> list[tuple[str, Any]]:
    found = []
    for label, secret in secrets.items():
        for where, text in texts.items():
            data = text.encode() if isinstance(text, str) else text
            if secret.encode() in data:
                found.append((label, where))
    return found


def test_no_secret_of_any_channel_is_kept_anywhere(tmp_path: Path) -> None:
    site = NewsSite().start()
    try:
        s = {
            name: unique(name)
            for name in (
                "env-key-id",
                "env-secret",
                "env-token",
                "setting-key-id",
                "setting-secret",
                "setting-token",
                "httpauth-pass",
                "spider-pass",
                "bearer",
                "cookie",
                "api-key",
                "proxy-pass",
            )
        }
        # What Basic credentials look like on the wire (HTTP auth yields to the header below).
        s["spider-basic"] = b64(f"opuser:{s['spider-pass']}")
        s["httpauth-basic"] = b64(f"opuser:{s['httpauth-pass']}")
        s["proxy-basic"] = b64(f"proxyuser:{s['proxy-pass']}")
        headers = {
            "Authorization": f"Bearer {s['bearer']}",
            "Cookie": f"opsession={s['cookie']}",
            "X-Api-Key": s["api-key"],
        }
        archive, spool = tmp_path / "archive", tmp_path / "spool"
        result = run_crawl(
            tmp_path,
            [
                "-a",
                f"start_urls={site.base_url}/",
                "-a",
                "http_user=opuser",
                "-a",
                f"http_pass={s['spider-pass']}",
                "-a",
                "http_auth_domain=127.0.0.1",
            ],
            {
                "NEWSWARC_ARCHIVE_URI": archive,
                "NEWSWARC_SPOOL_DIR": spool,
                "AWS_ACCESS_KEY_ID": s["setting-key-id"],
                "AWS_SECRET_ACCESS_KEY": s["setting-secret"],
                "AWS_SESSION_TOKEN": s["setting-token"],
                "HTTPAUTH_USER": "opuser",
                "HTTPAUTH_PASS": s["httpauth-pass"],
                "HTTPAUTH_DOMAIN": "127.0.0.1",
                "DEFAULT_REQUEST_HEADERS": json.dumps(headers),
                # The operator's Cookie header goes out as set (the cookie jar would replace it).
                "COOKIES_ENABLED": False,
                "LOG_LEVEL": "DEBUG",
                "STATS_DUMP": True,
            },
            env={
                "AWS_ACCESS_KEY_ID": s["env-key-id"],
                "AWS_SECRET_ACCESS_KEY": s["env-secret"],
                "AWS_SESSION_TOKEN": s["env-token"],
                # The test site serves as its own proxy (absolute-form request targets).
                "http_proxy": f"http://proxyuser:{s['proxy-pass']}@127.0.0.1:{site.port}",
                "no_proxy": "",
                "NO_PROXY": "",
            },
        )
        assert result.returncode == 0, result.log[-3000:]

        # Every channel was live: the secrets reached the server...
        received = [dict(r["headers"]) for r in site.requests]
        assert received and all(
            h.get("Authorization") == f"Bearer {s['bearer']}"
            and h.get("Proxy-Authorization") == f"Basic {s['proxy-basic']}"
            and h.get("Cookie") == f"opsession={s['cookie']}"
            and h.get("X-Api-Key") == s["api-key"]
            for h in received
        ), received[0]
        assert all(r["path"].startswith(site.base_url) for r in site.requests)  # via the proxy
        # ... and the places they would have shown are there, with the marker instead.
        log = result.log
        assert "Overridden settings" in log and "'AWS_SECRET_ACCESS_KEY': '" + MARKER in log
        assert "'HTTPAUTH_PASS': '" + MARKER in log and "Dumping Scrapy stats" in log
        manifest_path = next(archive.glob("crawls/*.json"))
        manifest = json.loads(manifest_path.read_text())
        assert manifest["arguments"]["http_pass"] == MARKER
        assert manifest["arguments"]["http_user"] == "opuser"
        warcs = sorted(archive.glob("warc/*/*/*/*.warc.gz"))
        assert warcs
        sent = [dict(r["headers"]) for w in warcs for r in requests(w)]
        assert sent and all(
            h["Authorization"] == f"Bearer {MARKER}"
            and h["Proxy-Authorization"] == f"Basic {MARKER}"
            and h["Cookie"] == f"opsession={MARKER}"
            and h["X-Api-Key"] == MARKER
            and h["User-Agent"].startswith("newswarc/")  # the rest kept as sent
            for h in sent
        ), sent[0]
        for warc in warcs:
            check_warc_file(warc)  # digests computed over what was written
        articles = [r for p in archive.glob("articles/*/*/*/*.jsonl.gz") for r in read_jsonl_gz(p)]
        assert articles

        # Nowhere: the log (stats dump included), the manifest, every WARC (warcinfo, request
        # and response records), the article batches, the indexes, the spool and crawl state.
        kept: dict[Any, bytes | str] = {"log": log, **every_byte_kept(archive, spool)}
        assert leaks(s, kept) == []
    finally:
        site.stop()


@pytest.mark.s3
def test_credentials_in_the_archive_uri_are_used_and_never_shown(
    news_site: Any, s3: SeaweedS3, tmp_path: Path
) -> None:
    bucket = s3.new_bucket()
    spool = tmp_path / "spool"
    result = run_crawl(
        tmp_path,
        ["-a", f"url={news_site.base_url}/news/2026/11/27/port-strike-talks-collapse.html"],
        {
            "NEWSWARC_ARCHIVE_URI": f"s3://{ACCESS_KEY}:{SECRET_KEY}@{bucket}/news",
            "NEWSWARC_SPOOL_DIR": spool,
            "LOG_LEVEL": "DEBUG",  # botocore logs its signed requests
        },
        env={"AWS_ENDPOINT_URL": s3.endpoint, "AWS_REGION": "us-east-1"},
    )
    assert result.returncode == 0, result.log[-3000:]
    assert "botocore" in result.log  # its debug lines were there to leak
    copy = tmp_path / "copy"
    client = s3.client()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    for key in keys:
        (copy / key).parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, key, str(copy / key))
    manifest = json.loads(next(copy.glob("news/crawls/*.json")).read_text())
    assert manifest["archive_uri"] == f"s3://{bucket}/news"
    assert manifest["counts"]["articles_written"] == 1
    secrets = {"key id": ACCESS_KEY, "secret": SECRET_KEY}
    assert leaks(secrets, {"log": result.log, **every_byte_kept(copy, spool)}) == []


def test_redactor_headers_text_and_records() -> None:
    secret = unique("s")
    redactor = Redactor([secret, "short"])
    assert redactor.text(f"a {secret} b short") == f"a {MARKER} b short"  # < 6 chars: not text
    headers = [
        ("Authorization", "Bearer short"),
        ("Proxy-Authorization", "opaque"),
        ("Cookie", f"a=1; s={secret}"),
        ("Accept", "text/html"),
    ]
    assert redactor.headers(headers) == [
        ("Authorization", f"Bearer {MARKER}"),
        ("Proxy-Authorization", MARKER),
        ("Cookie", f"a=1; s={MARKER}"),
        ("Accept", "text/html"),
    ]
    assert redactor.headers([("Cookie", "x=1")], ["cookie"]) == [("Cookie", MARKER)]
    assert redactor.data({"k": [secret, 1, {secret: None}]}) == {"k": [MARKER, 1, {MARKER: None}]}

    shared = install_log_redaction()
    shared.add([secret])
    record = logging.getLogRecordFactory()(
        "x", logging.INFO, __file__, 1, "value %s and %(k)s", ({"k": secret},), None
    )
    assert secret not in record.getMessage() and MARKER in record.getMessage()
    try:
        raise ValueError(f"boom {secret}")
    except ValueError:
        import sys

        exc = logging.getLogRecordFactory()(
            "x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    assert exc.exc_text and secret not in exc.exc_text and MARKER in exc.exc_text


def test_collect_finds_every_channel() -> None:
    from scrapy.settings import Settings

    class Spider:
        http_user = "someone"
        http_pass = "spider-password"

    settings = Settings(
        {
            "AWS_SECRET_ACCESS_KEY": "settings-secret",
            "HTTPAUTH_USER": "user",
            "HTTPAUTH_PASS": "auth-password",
            "NEWSWARC_ARCHIVE_URI": "s3://AKIAKEYID:uri-secret@bucket/p",
            "DEFAULT_REQUEST_HEADERS": {
                "Authorization": "Bearer bearer-token",
                "Cookie": "sid=cookie-value; lang=en",
                "Accept": "text/html",
            },
        }
    )
    found = collect(
        settings,
        spider=Spider(),
        arguments={"api_token": "argument-token", "site": "example"},
        environ={"AWS_SESSION_TOKEN": "env-session-token", "https_proxy": "http://u:proxy-pw@h:1"},
    )
    for secret in (
        "settings-secret",
        "auth-password",
        b64("user:auth-password"),
        "AKIAKEYID",
        "uri-secret",
        "bearer-token",
        "cookie-value",
        "spider-password",
        b64("someone:spider-password"),
        "argument-token",
        "env-session-token",
        "proxy-pw",
    ):
        assert secret in found, secret
    assert "text/html" not in found and "example" not in found


def test_archive_uri_credentials_are_used_and_left_out_of_its_uri() -> None:
    storage = storage_from_uri("s3://AKIAKEY:sec%2Fret@bucket/pre/fix")
    assert isinstance(storage, S3Storage)
    assert (storage.uri, storage.bucket, storage.prefix) == (
        "s3://bucket/pre/fix",
        "bucket",
        "pre/fix",
    )
    assert set(storage.secrets()) == {"AKIAKEY", "sec/ret"}
    with pytest.raises(StorageError) as info:
        storage_from_uri("s3://onlykey@bucket/x")
    assert "onlykey" not in str(info.value)
    with pytest.raises(StorageError) as info:
        storage_from_uri("ftp://user:pw-secret@host/x")
    assert "pw-secret" not in str(info.value)
    assert without_userinfo("http://u:p@127.0.0.1:9/x") == "http://127.0.0.1:9/x"
