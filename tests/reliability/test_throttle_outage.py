"""The sign-in throttle across a Redis outage: failures counted from the audit log while Redis
was down still count once it is back (empty), because a cache miss seeds the counter from the
audit log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.reliability.workers import RedisServer

pytestmark = pytest.mark.django_db

ADDRESS = "198.51.100.23"


@pytest.fixture
def private_cache(tmp_path: Path, settings: Any) -> Iterator[RedisServer]:
    """The portal's Redis cache configuration pointed at a redis-server of this test's own."""
    server = RedisServer(tmp_path)
    server.start()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
            "KEY_PREFIX": "throttle-outage",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    try:
        yield server
    finally:
        server.stop()


def sign_in(username: str, password: str) -> int:
    response = Client().post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ADDRESS
    )
    return int(response.status_code)


def test_failures_counted_during_an_outage_survive_redis_coming_back(
    private_cache: RedisServer, make_user: Any
) -> None:
    make_user("carol")
    for _ in range(2):
        assert sign_in("carol", "wrong") != 302
    private_cache.stop()  # outage: the refusals are counted in the audit log only
    for _ in range(3):
        assert sign_in("carol", "wrong") != 302
    private_cache.start()  # back, and empty

    # Five refusals in the window: even the right password is throttled.
    assert sign_in("carol", "correct horse battery") != 302


def test_a_flushed_cache_does_not_reset_the_count(
    private_cache: RedisServer, make_user: Any
) -> None:
    import redis

    make_user("dave")
    for _ in range(5):
        assert sign_in("dave", "wrong") != 302
    redis.Redis.from_url(private_cache.url).flushall()

    assert sign_in("dave", "correct horse battery") != 302


def test_below_the_limit_the_right_password_still_works(
    private_cache: RedisServer, make_user: Any
) -> None:
    make_user("erin")
    for _ in range(2):
        assert sign_in("erin", "wrong") != 302
    private_cache.stop()
    private_cache.start()
    assert sign_in("erin", "correct horse battery") == 302
