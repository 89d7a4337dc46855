"""A hub's pub/sub feed stops when its last topic is left, even when the Redis client swallows
the cancellation of its reader (redis-py can, inside a command)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio.client import PubSub

from realtime.backends import pubsub
from realtime.runtime import get_hub
from tests.realtime.streamtools import realtime_settings
from tests.realtime.test_history import Collector


def swallow_one_cancellation(monkeypatch: Any) -> list[str]:
    """Make pub/sub reads swallow the first cancellation that reaches them, as redis-py's
    client can; returns a log that says when one was swallowed."""
    real_get_message = PubSub.get_message
    swallowed: list[str] = []

    async def get_message(self: PubSub, **options: Any) -> Any:
        try:
            return await real_get_message(self, **options)
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed.append("cancellation")
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            return None

    monkeypatch.setattr(PubSub, "get_message", get_message)
    return swallowed


@pytest.mark.redis
async def test_the_feed_stops_even_when_the_client_swallows_a_cancellation(
    settings, redis_url, monkeypatch
):
    realtime_settings(
        settings, HISTORY_BACKEND="realtime.backends.redis.RedisHistory", REDIS_URL=redis_url
    )
    monkeypatch.setattr(pubsub, "CANCEL_RETRY", 0.05)
    swallowed = swallow_one_cancellation(monkeypatch)
    hub, viewer = get_hub(), Collector()
    await hub.join("t", viewer)
    feed = await hub.feed_for("t")
    reader = feed.reader
    assert reader is not None

    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(5):
        await feed.stop()

    assert loop.time() - started < 1  # not hanging on a reader that goes on reading

    assert swallowed == ["cancellation"]
    assert reader.done()
    assert feed.reader is None
    assert hub.connections == 0
