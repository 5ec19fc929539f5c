"""The Redis test server: real, loopback only, password required, data kept across a restart."""

from __future__ import annotations

from typing import Any

import pytest
import redis


def test_server_requires_its_password_and_listens_on_loopback(redis_db: Any) -> None:
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=redis_db.port, password="wrong", retry=None).ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=redis_db.port, retry=None).set("k", "v")
    config = redis_db.client().config_get("bind")
    assert config["bind"] == "127.0.0.1"


def test_data_survives_a_stop_and_start_through_the_append_only_file(redis_db: Any) -> None:
    client = redis_db.client()
    assert client.config_get("appendonly")["appendonly"] == "yes"
    client.set("survivor", "yes")
    redis_db.stop()
    with pytest.raises(redis.ConnectionError):
        client.ping()
    redis_db.start()
    assert redis_db.client().get("survivor") == b"yes"
