"""Shared fixtures: personas, factories and real Redis.

Tests that need Redis skip with a reason outside CI; under ``CI=true`` they fail instead, so CI
can never pass without having run them.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
import redis

# Test users hash passwords fast; server processes started by tests inherit the environment.
os.environ.setdefault("LIVEVIDEO_FAST_PASSWORD_HASHER", "1")

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _redis_available(url: str) -> bool:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False
    return True


@pytest.fixture
def redis_url() -> str:
    """A real, empty Redis database for this test."""
    if not _redis_available(TEST_REDIS_URL):
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required under CI=true and is not answering at {TEST_REDIS_URL}")
        pytest.skip(f"no Redis at {TEST_REDIS_URL} (start redis-server to run this test)")
    redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    return TEST_REDIS_URL


@pytest.fixture(scope="session")
def _redis_cluster():
    from tests.redis_cluster import PrivateRedisCluster
    from tests.servers import start_or_skip

    cluster = start_or_skip(PrivateRedisCluster, "a private Redis Cluster")
    yield cluster
    cluster.destroy()


@pytest.fixture
def redis_cluster_url(_redis_cluster) -> str:
    """A ``REDIS_URL`` naming one node of a real, empty Redis Cluster (three masters, each
    with a replica), started once for the whole run."""
    _redis_cluster.flush_masters()
    return _redis_cluster.url


@pytest.fixture
def redis_cluster(_redis_cluster, redis_cluster_url):
    """The empty cluster ``redis_cluster_url`` names, for tests that kill or flush a master."""
    return _redis_cluster


@pytest.fixture
def fresh_realtime(settings: Any) -> Any:
    """A real-time setup of this test's own: overriding ``REALTIME`` rebuilds the process's
    history store (a fresh Redis namespace with the Redis store) and every loop's runtime
    (``realtime.runtime``; each test's loop gets its own), and nothing is left in flight
    afterwards."""
    from realtime.publish import flush

    settings.REALTIME = {
        **settings.REALTIME,
        "KEY_PREFIX": f"rt-test-{uuid.uuid4().hex[:12]}",
        "HISTORY_TTL": 600,
    }
    yield settings
    flush()


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings):
    """Each test starts with no rate-limit counts (a fresh store, or fresh Redis keys)."""
    config = dict(settings.RATE_LIMITS)
    if "redis" in config["BACKEND"]:
        config["OPTIONS"] = {**config["OPTIONS"], "prefix": f"test-ratelimit:{uuid.uuid4()}:"}
    settings.RATE_LIMITS = config
