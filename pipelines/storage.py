"""Archive storage chosen by URI scheme: a local folder (``file://``) or an S3 bucket (``s3://``)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: boto3 switches to multipart above this size; the same figures rebuild the expected ETag.
MULTIPART_CHUNK = 64 * 1024 * 1024


class StorageError(Exception):
    """The archive location is unusable: bad URI, missing bucket, wrong credentials, no access."""


class StorageUnreachable(StorageError):
    """The store does not answer (no connection, timeout, 5xx): it may come back by itself."""


class Storage(Protocol):
    """Where finished archive files go. Keys are ``/``-separated paths below the archive root."""

    uri: str

    def check(self) -> None:
        """Prove the location is writable now; raise :class:`StorageError` with a clear message."""

    def uri_for(self, key: str) -> str:
        """Return the final URI of ``key``."""

    def store_file(self, path: Path, key: str, *, content_type: str) -> None:
        """Publish the local file ``path`` as ``key``, atomically and verified; remove ``path``.

        Readers never see a partial object. Raises on any failure, leaving ``path`` in place.
        """

    def exists(self, key: str) -> bool:
        """Return whether ``key`` is stored."""

    def size(self, key: str) -> int:
        """Return the stored size of ``key`` in bytes."""

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """Return ``length`` bytes of ``key`` from ``offset`` (a ranged GET on S3)."""

    def open(self, key: str) -> IO[bytes]:
        """Open ``key`` for streaming reads."""

    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield the stored keys starting with ``prefix``, in lexical order."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileStorage:
    """A local folder."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self.uri = self.root.as_uri()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents and path != self.root.resolve():
            raise StorageError(f"key {key!r} escapes the archive folder {self.root}")
        return path

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".newswarc-probe-{uuid.uuid4().hex}"
            probe.write_bytes(b"probe")
            probe.unlink()
        except OSError as exc:
            raise StorageError(f"archive folder {self.root} is not writable: {exc}") from exc

    def uri_for(self, key: str) -> str:
        return (self.root / key).as_uri()

    def store_file(self, path: Path, key: str, *, content_type: str) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        size = path.stat().st_size
        if path.stat().st_dev == dest.parent.stat().st_dev:
            os.replace(path, dest)
        else:
            # Another filesystem: copy under a temporary name so the final name is never partial.
            tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
            with path.open("rb") as src, tmp.open("wb") as out:
                shutil.copyfileobj(src, out, 1024 * 1024)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dest)
            path.unlink()
        _fsync_dir(dest.parent)
        if dest.stat().st_size != size:
            raise StorageError(f"{dest} has {dest.stat().st_size} bytes after the move, not {size}")

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        with self._path(key).open("rb") as fh:
            fh.seek(offset)
            return fh.read(length)

    def open(self, key: str) -> IO[bytes]:
        return self._path(key).open("rb")

    def list(self, prefix: str = "") -> Iterator[str]:
        # Walk only the folder the prefix names, so listing one day does not walk the archive.
        base = self.root / prefix.rpartition("/")[0] if "/" in prefix else self.root
        if not base.is_dir():
            return
        keys = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if name.startswith("."):
                    continue
                key = Path(dirpath, name).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        yield from sorted(keys)


def expected_etag(path: Path, chunk: int = MULTIPART_CHUNK) -> str:
    """Return the ETag S3 gives ``path`` uploaded by :meth:`S3Storage.store_file`."""
    parts = []
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            parts.append(hashlib.md5(block, usedforsecurity=False).digest())
    # boto3 goes multipart at size >= threshold, so a file of exactly one chunk gets "-1".
    if path.stat().st_size < chunk:
        return (parts[0] if parts else hashlib.md5(b"", usedforsecurity=False).digest()).hex()
    joined = hashlib.md5(b"".join(parts), usedforsecurity=False).hexdigest()
    return f"{joined}-{len(parts)}"


_MD5_ETAG = re.compile(r"^[0-9a-f]{32}(-\d+)?$")


@dataclass(frozen=True)
class S3Options:
    """How to reach an S3-compatible store; ``None`` leaves a value to boto3's standard chain."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    verify_etag: bool = True


def make_s3_client(options: S3Options) -> S3Client:
    """Build a boto3 S3 client; environment variables (``AWS_ENDPOINT_URL``…) apply as usual."""
    import boto3
    from botocore.config import Config

    endpoint = (
        options.endpoint_url
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
    )
    config = Config(
        connect_timeout=5,
        read_timeout=60,
        retries={"mode": "standard", "max_attempts": 3},
        # Self-hosted stores (SeaweedFS, MinIO) rarely resolve bucket subdomains.
        s3={"addressing_style": "path" if endpoint else "auto"},
    )
    session = boto3.session.Session(
        aws_access_key_id=options.access_key_id,
        aws_secret_access_key=options.secret_access_key,
        aws_session_token=options.session_token,
        region_name=options.region or os.environ.get("AWS_REGION") or None,
    )
    return session.client("s3", endpoint_url=endpoint, config=config)


def _describe(exc: Exception) -> str:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"{err.get('Code', '?')} (HTTP {status}): {err.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


def _unreachable(where: str, exc: Exception) -> StorageError:
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import HTTPClientError

    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return StorageUnreachable(f"cannot reach S3 for {where}: {exc}")
    return StorageError(f"cannot use S3 for {where}: {exc}")


class S3Storage:
    """A bucket and key prefix on any S3-compatible store."""

    def __init__(
        self, client: S3Client, bucket: str, prefix: str = "", *, verify_etag: bool = True
    ):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.verify_etag = verify_etag
        self.uri = f"s3://{bucket}/{self.prefix}".rstrip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        where = f"{self.uri} at {self.client.meta.endpoint_url}"
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except NoCredentialsError as exc:
            raise StorageError(
                f"no S3 credentials for {where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            ) from exc
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            if status >= 500:
                message = f"S3 for {where} is unavailable: {_describe(exc)}"
                raise StorageUnreachable(message) from exc
            if code in {"404", "NoSuchBucket", "NotFound"}:
                raise StorageError(f"bucket {self.bucket!r} does not exist ({where})") from exc
            if code in {"403", "AccessDenied", "Forbidden", "InvalidAccessKeyId"}:
                raise StorageError(
                    f"access to bucket {self.bucket!r} denied ({where}): "
                    "wrong credentials or no permission"
                ) from exc
            raise StorageError(f"cannot use {where}: {_describe(exc)}") from exc
        except BotoCoreError as exc:
            raise _unreachable(where, exc) from exc
        probe = self._key(f"crawls/.probe-{uuid.uuid4().hex}")
        try:
            self.client.put_object(Bucket=self.bucket, Key=probe, Body=b"probe")
            self.client.delete_object(Bucket=self.bucket, Key=probe)
        except BotoCoreError as exc:
            raise _unreachable(where, exc) from exc
        except ClientError as exc:
            raise StorageError(f"cannot write to {where}: {_describe(exc)}") from exc

    def secrets(self) -> list[str]:
        """Return the credentials the client signs with (to keep them out of logs and files)."""
        signer = getattr(self.client, "_request_signer", None)
        credentials = getattr(signer, "_credentials", None)
        if credentials is None:
            return []
        frozen = credentials.get_frozen_credentials()
        return [v for v in (frozen.access_key, frozen.secret_key, frozen.token) if v]

    def uri_for(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def store_file(self, path: Path, key: str, *, content_type: str) -> None:
        from boto3.s3.transfer import TransferConfig

        size = path.stat().st_size
        config = TransferConfig(
            multipart_threshold=MULTIPART_CHUNK, multipart_chunksize=MULTIPART_CHUNK
        )
        self.client.upload_file(
            str(path),
            self.bucket,
            self._key(key),
            ExtraArgs={"ContentType": content_type},
            Config=config,
        )
        head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        if head["ContentLength"] != size:
            raise StorageError(
                f"{self.uri_for(key)} has {head['ContentLength']} bytes after upload, not {size}"
            )
        etag = head.get("ETag", "").strip('"')
        if self.verify_etag and _MD5_ETAG.match(etag) and etag != expected_etag(path):
            raise StorageError(f"{self.uri_for(key)} ETag {etag} does not match the local file")
        path.unlink()

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def size(self, key: str) -> int:
        return self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"]

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        obj = self.client.get_object(
            Bucket=self.bucket, Key=self._key(key), Range=f"bytes={offset}-{offset + length - 1}"
        )
        return obj["Body"].read()

    def open(self, key: str) -> IO[bytes]:
        body: Any = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        return body

    def list(self, prefix: str = "") -> Iterator[str]:
        strip = len(self.prefix) + 1 if self.prefix else 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            for obj in page.get("Contents", []):
                yield obj["Key"][strip:]


def _public(uri: str) -> str:
    """Return ``uri`` without the credentials it may carry, for messages."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return uri
    netloc, slash, path = rest.partition("/")
    return f"{scheme}://{netloc.rpartition('@')[2]}{slash}{path}"


def storage_from_uri(uri: str, *, s3: S3Options | None = None) -> Storage:
    """Return the storage for ``uri``: a path, ``file://`` URI or ``s3://bucket/prefix``.

    Raises:
        StorageError: the URI is malformed or names an unknown scheme.

    """
    if not uri:
        raise StorageError("no archive URI given")
    parts = urlsplit(uri)
    if parts.scheme in ("", "file") or re.match(r"^[A-Za-z]:[\\/]", uri):
        if parts.scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise StorageError(f"file URI {uri!r} names a remote host")
            return FileStorage(Path(unquote(parts.path)))
        return FileStorage(Path(uri).expanduser())
    if parts.scheme == "s3":
        options = s3 or S3Options()
        userinfo, _, bucket = parts.netloc.rpartition("@")
        if not bucket:
            raise StorageError(f"S3 URI {_public(uri)!r} has no bucket: use s3://bucket/prefix")
        if userinfo:
            # s3://KEY:SECRET@bucket/prefix: credentials in the URI, used and then forgotten
            # (the storage's URI, logged and recorded, has none).
            key, sep, secret = userinfo.partition(":")
            if not (key and sep and secret):
                raise StorageError("S3 URI credentials must be s3://ACCESS_KEY:SECRET@bucket/…")
            options = replace(
                options, access_key_id=unquote(key), secret_access_key=unquote(secret)
            )
        return S3Storage(
            make_s3_client(options),
            bucket,
            parts.path.strip("/"),
            verify_etag=options.verify_etag,
        )
    raise StorageError(f"unsupported archive URI scheme {parts.scheme!r} in {_public(uri)!r}")
