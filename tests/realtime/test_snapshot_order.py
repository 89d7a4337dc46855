"""Snapshots that only grow (reaction totals, ``REALTIME["SNAPSHOT_ORDER"]``): one read before
another but announced after it, by another process or region, is not handed on, so no viewer
goes back to it and every viewer ends on the newest."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from realtime.backends.redis import RedisHistory
from realtime.protocol import Event, make_event
from realtime.runtime import get_history, get_hub
from tests.realtime.streamtools import realtime_settings
from tests.realtime.test_history import Collector

ORDER = {"reactions": "total"}


def totals(total: int) -> Event:
    return make_event("reactions", {"totals": {"like": total}, "total": total})


async def viewing(settings: Any, topic: str, **options: Any) -> Collector:
    """A viewer of ``topic`` handed every snapshot that is not dropped as older (none replaces
    another here: ``LATEST_WINS`` is the hub's other rule, tests/realtime/test_hub.py)."""
    realtime_settings(settings, SNAPSHOT_ORDER=ORDER, LATEST_WINS=(), FLUSH_INTERVAL=0.0, **options)
    viewer = Collector()
    await get_hub().join(topic, viewer)
    return viewer


async def test_a_snapshot_read_before_one_handed_on_does_not_win(settings):
    viewer = await viewing(settings, "t", HISTORY_BACKEND="realtime.backends.memory.MemoryHistory")
    other_topic = Collector()
    await get_hub().join("u", other_topic)
    store = get_history()
    newer, older, same, newest = totals(5), totals(3), totals(5), totals(8)
    for snapshot in (newer, older, same, newest):
        await store.announce("t", snapshot)
    first_on_u = totals(1)  # each topic is ordered on its own
    await store.announce("u", first_on_u)
    assert await viewer.wait_for(3) == [newer, same, newest]
    assert await other_topic.wait_for(1) == [first_on_u]
    await asyncio.sleep(0.05)
    assert len(viewer.events) == 3


async def test_snapshots_of_other_types_are_handed_on_as_they_come(settings):
    viewer = await viewing(settings, "t", HISTORY_BACKEND="realtime.backends.memory.MemoryHistory")
    store = get_history()
    counts = [make_event("viewers", {"count": n}) for n in (5, 3)]  # a count may go down
    unordered = make_event("reactions", {"totals": {}})  # no number to order it by
    for snapshot in (totals(5), *counts, unordered):
        await store.announce("t", snapshot)
    assert (await viewer.wait_for(4))[1:] == [*counts, unordered]


@pytest.mark.redis
async def test_over_redis_a_process_announcing_older_totals_last_does_not_win(settings, redis_url):
    """Two processes store taps: the one that read the totals first announces them last."""
    viewer = await viewing(
        settings, "t", HISTORY_BACKEND="realtime.backends.redis.RedisHistory", REDIS_URL=redis_url
    )
    reader_last = get_history()
    reader_first = RedisHistory(size=5, redis_url=redis_url, key_prefix=reader_last.key_prefix)
    try:
        await reader_last.announce("t", totals(7))
        await reader_first.announce("t", totals(4))
        await reader_last.announce("t", totals(9))
        assert [e.data["total"] for e in await viewer.wait_for(2)] == [7, 9]
    finally:
        get_hub().leave("t", viewer)
