"""The history store contract, run against every store (Redis against the real server)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import redis.asyncio
import redis.cluster

from realtime.backends.base import HistoryStore
from realtime.backends.memory import MemoryHistory
from realtime.backends.redis_cluster import RedisClusterHistory
from realtime.protocol import Batch, Event, encode_data, make_event, now_ms
from realtime.runtime import get_history, get_hub
from tests.realtime.streamtools import consecutive, realtime_settings


class Collector:
    """A hub subscriber that keeps what it is handed."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.batches: list[Batch] = []
        self.arrived = asyncio.Event()

    def push(self, batch: Batch) -> bool:
        self.batches.append(batch)
        self.events.extend(batch.events)
        self.arrived.set()
        return False

    async def wait_for(self, count: int) -> list[Event]:
        async with asyncio.timeout(3):
            while len(self.events) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.events


async def append(store: HistoryStore, topic: str, data: dict[str, Any], kind: str = "x") -> Event:
    return await store.append(topic, kind, data, ts=now_ms(), data_json=encode_data(data))


class HistoryContract:
    """What every history store does. Subclasses configure one with ``configure`` and say how
    it loses every topic with ``lose_everything``."""

    size = 5

    @pytest.fixture
    def store(self, settings: Any) -> HistoryStore:
        self.configure(settings)
        return get_history()

    def configure(self, settings: Any) -> None:
        raise NotImplementedError

    async def lose_everything(self, store: HistoryStore) -> HistoryStore:
        """The store as it is after a restart that kept no data."""
        raise NotImplementedError

    async def test_ids_follow_each_other_per_topic(self, store):
        ids = [(await append(store, "a", {"n": n})).id for n in range(3)]
        assert ids == consecutive(ids[0], 3)
        b = (await append(store, "b", {})).id
        assert (await append(store, "a", {})).id == ids[-1] + 1
        assert (await append(store, "b", {})).id == b + 1

    async def test_many_appended_together_are_each_appended_in_order(self, store):
        first = (await append(store, "a", {"n": -1})).id
        entries = [
            ("a" if n % 3 else "b", "x", {"n": n}, now_ms(), encode_data({"n": n}))
            for n in range(7)
        ]
        collector = Collector()
        hub = get_hub()
        await hub.join("a", collector)
        try:
            await store.append_many(entries)
            received = await collector.wait_for(4)
        finally:
            hub.leave("a", collector)
        a = (await store.replay("a", first)).events
        assert [e.data["n"] for e in a] == [1, 2, 4, 5]
        assert [e.id for e in a] == consecutive(first + 1, 4)
        assert [e.encoded for e in received] == [e.encoded for e in a]
        b = (await store.replay("b", None)).last_id
        assert [e.data["n"] for e in (await store.replay("b", b - 3)).events] == [0, 3, 6]

    async def test_a_new_topic_counts_from_the_clock_in_microseconds(self, store):
        before = time.time_ns() // 1000
        first = (await append(store, "a", {})).id
        assert before < first <= time.time_ns() // 1000 + 1
        assert first < 2**53  # exact as a JSON number in JavaScript

    async def test_after_losing_its_data_a_topic_counts_on_above_every_id_it_gave_out(self, store):
        old = (await append(store, "a", {})).id
        store = await self.lose_everything(store)
        # A client that saw ``old`` is told to refetch, before and after the next event.
        replay = await store.replay("a", old)
        assert (replay.last_id, replay.events, replay.reset) == (0, [], True)
        new = (await append(store, "a", {})).id
        assert new > old
        replay = await store.replay("a", old)
        assert (replay.last_id, replay.events, replay.reset) == (new, [], True)

    async def test_an_appended_event_is_encoded_once_in_the_envelope(self, store):
        event = await append(store, "a", {"text": "héllo ✓", "n": [1, 2]}, kind="comment.created")
        assert json.loads(event.encoded) == {
            "type": "comment.created",
            "id": event.id,
            "ts": event.ts,
            "data": {"text": "héllo ✓", "n": [1, 2]},
        }

    async def test_replay_without_a_cursor_gives_the_newest_id_only(self, store):
        appended = [await append(store, "a", {"n": n}) for n in range(3)]
        replay = await store.replay("a", None)
        assert (replay.last_id, replay.events, replay.reset) == (appended[-1].id, [], False)

    async def test_replay_gives_every_retained_event_after_the_cursor_in_order(self, store):
        appended = [await append(store, "a", {"n": n}) for n in range(4)]
        replay = await store.replay("a", appended[0].id)
        assert [e.id for e in replay.events] == [e.id for e in appended[1:]]
        assert [e.encoded for e in replay.events] == [e.encoded for e in appended[1:]]
        assert [e.data for e in replay.events] == [{"n": 1}, {"n": 2}, {"n": 3}]
        assert (replay.last_id, replay.reset) == (appended[-1].id, False)

    async def test_an_up_to_date_client_gets_nothing(self, store):
        event = await append(store, "a", {})
        replay = await store.replay("a", event.id)
        assert (replay.events, replay.reset) == ([], False)

    async def test_history_keeps_the_newest_events_only(self, store):
        ids = [(await append(store, "a", {"n": n})).id for n in range(8)]  # the last 5 are kept
        assert [e.id for e in (await store.replay("a", ids[2])).events] == ids[3:]
        assert (await store.replay("a", ids[1])).reset  # ids[2] is gone: a gap
        assert (await store.replay("a", 0)).reset

    async def test_a_client_there_before_the_first_event_resumes_until_history_is_trimmed(
        self, store
    ):
        """Its ``hello`` said 0: it has seen none of the ids, which start from the clock."""
        appended = [await append(store, "a", {"n": n}) for n in range(self.size)]
        replay = await store.replay("a", 0)
        assert ([e.id for e in replay.events], replay.reset) == ([e.id for e in appended], False)
        await append(store, "a", {})  # the first event is trimmed
        assert (await store.replay("a", 0)).reset

    async def test_a_cursor_ahead_of_the_history_is_a_reset(self, store):
        """The store lost its data (a flushed Redis): the client's ids mean nothing now."""
        event = await append(store, "a", {})
        assert (await store.replay("a", event.id + 5)).reset
        assert (await store.replay("unknown", 3)).reset

    async def test_an_unknown_topic_is_empty(self, store):
        replay = await store.replay("unknown", 0)
        assert (replay.last_id, replay.events, replay.reset) == (0, [], False)

    async def test_append_announces_to_subscribers_in_id_order(self, store):
        collector = Collector()
        hub = get_hub()
        await hub.join("a", collector)
        try:
            appended = [await append(store, "a", {"n": n}) for n in range(3)]
            await append(store, "other", {})
            received = await collector.wait_for(3)
            await asyncio.sleep(0.05)
            assert [e.id for e in received] == consecutive(appended[0].id, 3)
            assert [e.encoded for e in received] == [e.encoded for e in appended]
        finally:
            hub.leave("a", collector)

    async def test_announce_delivers_a_snapshot_without_keeping_it(self, store):
        collector = Collector()
        hub = get_hub()
        await hub.join("a", collector)
        try:
            snapshot = make_event("viewers", {"count": 3})
            await store.announce("a", snapshot)
            [received] = await collector.wait_for(1)
            assert (received.type, received.id, received.data) == ("viewers", None, {"count": 3})
            assert received.encoded == snapshot.encoded
        finally:
            hub.leave("a", collector)
        assert (await store.replay("a", 0)).events == []

    async def test_clear_forgets_a_topic(self, store):
        old = (await append(store, "a", {})).id
        await store.clear("a")
        assert (await store.replay("a", None)).last_id == 0
        assert (await append(store, "a", {})).id > old


class TestMemoryHistory(HistoryContract):
    def configure(self, settings):
        realtime_settings(
            settings,
            HISTORY_BACKEND="realtime.backends.memory.MemoryHistory",
            HISTORY_SIZE=self.size,
        )

    async def lose_everything(self, store):
        return MemoryHistory(size=self.size)  # a new process


class OnRedis(HistoryContract):
    """``RedisHistory`` on the Redis at ``redis_url`` (set by a fixture)."""

    redis_url = ""

    def configure(self, settings):
        realtime_settings(
            settings,
            HISTORY_BACKEND="realtime.backends.redis.RedisHistory",
            HISTORY_SIZE=self.size,
            REDIS_URL=self.redis_url,
        )


@pytest.mark.redis
class TestRedisHistory(OnRedis):
    @pytest.fixture(autouse=True)
    def _redis(self, redis_url: str) -> None:
        self.redis_url = redis_url

    async def lose_everything(self, store):
        client = redis.asyncio.Redis.from_url(self.redis_url)
        await client.flushdb()  # as a Redis restarted without persistence
        await client.aclose()
        return store

    async def test_keys_expire_after_the_last_event(self, store, settings):
        realtime_settings(settings, HISTORY_TTL=60)
        await append(get_history(), "a", {})
        client = redis.asyncio.Redis.from_url(self.redis_url)
        keys = await client.keys(f"{settings.REALTIME['KEY_PREFIX']}:*")
        assert len(keys) == 3  # the counter, where it started, and the events
        assert all(0 < ttl <= 60 for ttl in [await client.ttl(key) for key in keys])
        await client.aclose()

    async def test_a_topic_whose_keys_expired_counts_on_above_its_old_ids(self, store):
        old = (await append(store, "a", {})).id
        client = redis.asyncio.Redis.from_url(self.redis_url)
        for key in await client.keys(f"{store.key_prefix}:*"):
            await client.pexpire(key, 1)  # as HISTORY_TTL lapsing, only sooner
        await asyncio.sleep(0.01)
        await client.aclose()
        assert (await store.replay("a", old)).reset
        assert (await append(store, "a", {})).id > old

    async def test_a_counter_from_before_ids_came_from_the_clock_counts_on(self, store):
        """Kept by an older version: ids from 1, and no record of where the counter started."""
        client = redis.asyncio.Redis.from_url(self.redis_url)
        seq, log, _ = store._keys("a")
        await client.set(seq, 2)
        await client.zadd(log, {make_event("x", {}, event_id=n).encoded: n for n in (1, 2)})
        await client.aclose()
        assert (await append(store, "a", {})).id == 3
        assert [e.id for e in (await store.replay("a", 0)).events] == [1, 2, 3]


@pytest.mark.redis
class TestRedisClusterHistory(OnRedis):
    """On a Redis Cluster: ``RedisHistory`` on a node's URL is the cluster store."""

    @pytest.fixture(autouse=True)
    def _redis(self, redis_cluster: Any) -> None:
        self.redis_url, self.cluster = redis_cluster.url, redis_cluster

    async def lose_everything(self, store):
        self.cluster.flush_masters()  # as masters restarted without persistence
        return store

    async def test_the_store_is_the_cluster_one(self, store):
        assert isinstance(store, RedisClusterHistory)

    async def test_a_topic_whose_ids_another_node_gave_out_counts_on_from_the_clock(self, store):
        """A replica promoted to master may lack the last ids its master gave out: the
        topic's counter jumps above them, and a client resuming from one of them resets."""
        ids = [(await append(store, "a", {})).id for _ in range(3)]
        client = redis.cluster.RedisCluster.from_url(self.redis_url)
        client.set(store.key("a", "node"), "the-old-master")
        client.set(store.key("a", "seq"), ids[0])  # the last two did not reach the replica
        client.close()
        replay = await store.replay("a", ids[0])
        assert replay.reset
        assert replay.last_id > ids[-1]
        assert (await store.replay("a", ids[-1])).reset
        new = (await append(store, "a", {})).id
        assert new == replay.last_id + 1
        assert [e.id for e in (await store.replay("a", replay.last_id)).events] == [new]
