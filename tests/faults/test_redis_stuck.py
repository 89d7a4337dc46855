"""The async Redis clients (history, publishing, presence writes) against a Redis that stops
answering without closing its sockets: a command fails in bounded time instead of hanging."""

from __future__ import annotations

import time

import pytest
import redis

from loadtest.servers import PrivateRedis
from realtime import clients

pytestmark = [pytest.mark.slow, pytest.mark.redis]


async def test_a_command_to_a_stuck_redis_fails_in_bounded_time(
    private_redis: PrivateRedis, monkeypatch
):
    monkeypatch.setattr(clients, "SOCKET_TIMEOUT", 0.5)
    client = clients.redis_client(private_redis.url)
    await client.set("k", "v")  # the connection is open before Redis gets stuck
    private_redis.pause()

    started = time.monotonic()
    with pytest.raises(redis.TimeoutError):
        await client.get("k")
    # The timeout, and once more on a fresh connection (the retry).
    assert time.monotonic() - started < 3.0
