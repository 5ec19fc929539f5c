from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipelines.storage import (
    FileStorage,
    S3Options,
    S3Storage,
    StorageError,
    expected_etag,
    storage_from_uri,
)
from tests.s3server import ACCESS_KEY, SECRET_KEY, SeaweedS3


def test_uri_schemes_pick_the_storage(tmp_path: Path) -> None:
    assert isinstance(storage_from_uri(str(tmp_path)), FileStorage)
    local = storage_from_uri(tmp_path.as_uri())
    assert isinstance(local, FileStorage) and local.root == tmp_path
    s3 = storage_from_uri("s3://bucket/some/prefix/", s3=S3Options(endpoint_url="http://x:1"))
    assert isinstance(s3, S3Storage)
    assert (s3.bucket, s3.prefix) == ("bucket", "some/prefix")
    assert s3.uri_for("warc/a.warc.gz") == "s3://bucket/some/prefix/warc/a.warc.gz"


@pytest.mark.parametrize("uri", ["ftp://host/x", "s3://", "s3:///prefix", "file://remote/x", ""])
def test_bad_uris_are_refused(uri: str) -> None:
    with pytest.raises(StorageError):
        storage_from_uri(uri)


def test_file_storage_moves_atomically_and_lists(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "archive")
    storage.check()
    src = tmp_path / "spool.bin"
    src.write_bytes(b"0123456789")
    storage.store_file(src, "warc/2026/11/29/a.warc.gz", content_type="application/warc")
    assert not src.exists()
    assert storage.exists("warc/2026/11/29/a.warc.gz")
    assert storage.read_range("warc/2026/11/29/a.warc.gz", 3, 4) == b"3456"
    assert list(storage.list("warc/")) == ["warc/2026/11/29/a.warc.gz"]
    assert list(storage.list("articles/")) == []
    with pytest.raises(StorageError):
        storage.store_file(src, "../escape", content_type="x")


def test_file_storage_check_fails_when_folder_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "archive"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match="not writable"):
        FileStorage(blocker / "sub").check()


def test_expected_etag_matches_multipart_rule(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"a" * 10 + b"b" * 10 + b"c" * 5)
    single = expected_etag(path, chunk=100)
    assert len(single) == 32 and "-" not in single
    assert expected_etag(path, chunk=10).endswith("-3")
    # Exactly one chunk is already multipart for boto3 (size >= threshold).
    assert expected_etag(path, chunk=25).endswith("-1")


@pytest.mark.s3
def test_s3_store_verify_range_and_list(s3: SeaweedS3, tmp_path: Path) -> None:
    bucket = s3.new_bucket()
    storage = storage_from_uri(
        f"s3://{bucket}/arch",
        s3=S3Options(
            endpoint_url=s3.endpoint, access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY
        ),
    )
    storage.check()
    src = tmp_path / "x.warc.gz"
    payload = os.urandom(300_000)
    src.write_bytes(payload)
    storage.store_file(src, "warc/2026/11/29/x.warc.gz", content_type="application/warc")
    assert not src.exists()
    head = s3.client().head_object(Bucket=bucket, Key="arch/warc/2026/11/29/x.warc.gz")
    assert head["ContentType"] == "application/warc"
    assert head["ContentLength"] == len(payload)
    assert storage.read_range("warc/2026/11/29/x.warc.gz", 1000, 50) == payload[1000:1050]
    assert list(storage.list("warc/")) == ["warc/2026/11/29/x.warc.gz"]
    # The probe object of check() is gone.
    assert [o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket)["Contents"]] == [
        "arch/warc/2026/11/29/x.warc.gz"
    ]


@pytest.mark.s3
def test_s3_check_names_missing_bucket_and_wrong_secret(s3: SeaweedS3) -> None:
    good = S3Options(
        endpoint_url=s3.endpoint, access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY
    )
    with pytest.raises(StorageError, match="does not exist"):
        storage_from_uri("s3://no-such-bucket-here/x", s3=good).check()
    bucket = s3.new_bucket()
    bad = S3Options(endpoint_url=s3.endpoint, access_key_id=ACCESS_KEY, secret_access_key="wrong")
    with pytest.raises(StorageError, match=r"denied|credentials|Signature"):
        storage_from_uri(f"s3://{bucket}/x", s3=bad).check()


def test_s3_check_names_unreachable_endpoint() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    options = S3Options(
        endpoint_url=f"http://127.0.0.1:{port}", access_key_id="a", secret_access_key="b"
    )
    with pytest.raises(StorageError, match="cannot reach"):
        storage_from_uri("s3://bucket/x", s3=options).check()
