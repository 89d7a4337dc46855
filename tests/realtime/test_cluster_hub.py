"""The hub on a Redis Cluster: one pub/sub connection per master that serves this process's
topics; and a master killed mid-broadcast, its replica taking over, the viewers of two hubs
(two processes' worth) going on receiving new events, and whatever the promotion may have
lost reaching them as ``reset``, never as a gap or a repeat. (The hub tests of
``test_hub.py`` run on the cluster too.)"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
import redis

from realtime.backends.base import HistoryStore
from realtime.cluster import async_cluster_client
from realtime.protocol import Event
from realtime.runtime import get_history, get_hub
from tests.realtime.streamtools import consecutive, realtime_settings
from tests.realtime.test_history import Collector, append

pytestmark = pytest.mark.redis


async def test_one_connection_per_master_that_serves_watched_topics(settings, redis_cluster):
    realtime_settings(
        settings,
        HISTORY_BACKEND="realtime.backends.redis.RedisHistory",
        REDIS_URL=redis_cluster.url,
    )
    store, hub = get_history(), get_hub()
    client = async_cluster_client(redis_cluster.url)
    await client.initialize()
    by_master: dict[str, list[str]] = {}
    for n in range(60):  # two topics on each master
        master = client.get_node_from_key(store.channel(f"t{n}")).name
        if len(by_master.setdefault(master, [])) < 2:
            by_master[master].append(f"t{n}")
    topics = [topic for pair in by_master.values() for topic in pair]
    assert len(topics) == 6
    viewers = {topic: Collector() for topic in topics}
    for topic, viewer in viewers.items():
        await hub.join(topic, viewer)
    assert hub.connections == 3
    for master in client.get_primaries():
        pubsub = await client.client_list(_type="pubsub", target_nodes=master)
        assert [c["name"] for c in pubsub] == [hub.client_name]  # type: ignore[attr-defined]
    for topic, viewer in viewers.items():
        event = await append(store, topic, {})
        assert [e.id for e in await viewer.wait_for(1)] == [event.id]
    for topic, viewer in viewers.items():
        hub.leave(topic, viewer)
    async with asyncio.timeout(3):
        while hub.connections:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    await client.aclose()


async def test_a_topic_whose_slot_moves_to_another_master_follows_it(settings, redis_cluster):
    """Resharding (growing the cluster) hands slots to other masters: the old one drops its
    subscribers of them, and the hub subscribes where the slot went."""
    realtime_settings(
        settings,
        HISTORY_BACKEND="realtime.backends.redis.RedisHistory",
        REDIS_URL=redis_cluster.url,
    )
    store, hub, viewer = get_history(), get_hub(), Collector()
    await hub.join("t", viewer)
    try:
        await asyncio.to_thread(redis_cluster.move_slot_of, store.key("t", "seq"))
        async with asyncio.timeout(10):
            while True:
                event = await append(store, "t", {})
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        await received(viewer, event)
                        break
    finally:
        hub.leave("t", viewer)


class Broadcast:
    """Appends an event to topic "t" every few milliseconds, keeping those the store took
    (while no master serves the topic's slot, appends fail)."""

    def __init__(self, store: HistoryStore) -> None:
        self.store = store
        self.appended: list[Event] = []
        self.failed = 0
        self._running = True
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self._running:
            try:
                async with asyncio.timeout(2):
                    self.appended.append(await append(self.store, "t", {}))
            except (redis.RedisError, TimeoutError):
                self.failed += 1
            await asyncio.sleep(0.01)

    async def until(self, count: int) -> Event:
        """Wait until ``count`` more events went out; the last of them."""
        goal = len(self.appended) + count
        async with asyncio.timeout(30):
            while len(self.appended) < goal:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        return self.appended[-1]

    async def stop(self) -> None:
        # Asked, not cancelled: redis-py's cluster client can swallow a cancellation in its
        # retries after a failover, and a cancelled loop then ran (and the test hung) for ever.
        self._running = False
        async with asyncio.timeout(10):
            await self._task


async def received(viewer: Collector, event: Event) -> None:
    async with asyncio.timeout(10):
        while event.id not in [e.id for e in viewer.events]:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def runs(viewer: Collector) -> list[list[int]]:
    """The ids a viewer received, split at each ``reset``."""
    parts: list[list[int]] = [[]]
    for event in viewer.events:
        if event.type == "reset":
            parts.append([])
        else:
            parts[-1].append(event.id)  # type: ignore[arg-type]
    return parts


def went_on(viewer: Collector) -> bool:
    """Whether the viewer was reset and has received events since."""
    parts = runs(viewer)
    return len(parts) > 1 and len(parts[-1]) >= 10


async def test_a_master_killed_mid_broadcast_costs_viewers_a_reset_never_a_gap(
    settings: Any, redis_cluster: Any
) -> None:
    realtime_settings(
        settings,
        HISTORY_BACKEND="realtime.backends.redis.RedisHistory",
        REDIS_URL=redis_cluster.url,
    )
    store = get_history()
    hubs = [get_hub(), store.make_hub(flush_interval=0.0, storm_joins=1000, storm_share=0.1)]
    viewers = [Collector(), Collector()]
    for hub, viewer in zip(hubs, viewers, strict=True):
        await hub.join("t", viewer)
    broadcast = Broadcast(store)
    try:
        before = await broadcast.until(20)
        dead = await asyncio.to_thread(redis_cluster.kill_master_of, store.key("t", "seq"))
        async with asyncio.timeout(20):  # the viewers go on, once their hubs find the new master
            while not all(went_on(viewer) for viewer in viewers):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    finally:
        await broadcast.stop()
    try:
        for viewer in viewers:
            await received(viewer, broadcast.appended[-1])
    finally:
        for hub, viewer in zip(hubs, viewers, strict=True):
            hub.leave("t", viewer)
    await asyncio.to_thread(redis_cluster.restart, dead)

    ids = [e.id for e in broadcast.appended]
    assert ids == sorted(set(ids)), "the promoted master gave out an id again"
    for viewer in viewers:
        *_, since_reset = parts = runs(viewer)
        assert len(parts) == 2, "told to reset once, when the hub found the new master"
        assert all(part == consecutive(part[0], len(part)) for part in parts if part), parts
        assert since_reset[-1] == broadcast.appended[-1].id
        assert since_reset[0] > before.id
    # A client resuming from before the failover: the new master may lack what followed.
    assert (await store.replay("t", before.id)).reset
