"""The history store contract, run against every store (Redis against the real server)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from realtime.conf import get_history
from realtime.history.base import HistoryStore
from realtime.hub import get_hub
from realtime.protocol import Batch, Event, encode_data, make_event, now_ms
from tests.realtime.streamtools import realtime_settings


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
    """What every history store does. Subclasses configure one with ``configure``."""

    size = 5

    @pytest.fixture
    def store(self, settings: Any) -> HistoryStore:
        self.configure(settings)
        return get_history()

    def configure(self, settings: Any) -> None:
        raise NotImplementedError

    async def test_ids_start_at_one_and_follow_each_other_per_topic(self, store):
        assert [(await append(store, "a", {"n": n})).id for n in range(3)] == [1, 2, 3]
        assert (await append(store, "b", {})).id == 1
        assert (await append(store, "a", {})).id == 4

    async def test_an_appended_event_is_encoded_once_in_the_envelope(self, store):
        event = await append(store, "a", {"text": "héllo ✓", "n": [1, 2]}, kind="comment.created")
        assert json.loads(event.encoded) == {
            "type": "comment.created",
            "id": 1,
            "ts": event.ts,
            "data": {"text": "héllo ✓", "n": [1, 2]},
        }

    async def test_replay_without_a_cursor_gives_the_newest_id_only(self, store):
        for n in range(3):
            await append(store, "a", {"n": n})
        replay = await store.replay("a", None)
        assert (replay.last_id, replay.events, replay.reset) == (3, [], False)

    async def test_replay_gives_every_retained_event_after_the_cursor_in_order(self, store):
        appended = [await append(store, "a", {"n": n}) for n in range(4)]
        replay = await store.replay("a", 1)
        assert [e.id for e in replay.events] == [2, 3, 4]
        assert [e.encoded for e in replay.events] == [e.encoded for e in appended[1:]]
        assert [e.data for e in replay.events] == [{"n": 1}, {"n": 2}, {"n": 3}]
        assert (replay.last_id, replay.reset) == (4, False)

    async def test_an_up_to_date_client_gets_nothing(self, store):
        await append(store, "a", {})
        replay = await store.replay("a", 1)
        assert (replay.events, replay.reset) == ([], False)

    async def test_history_keeps_the_newest_events_only(self, store):
        for n in range(8):
            await append(store, "a", {"n": n})  # ids 1..8; 4..8 are kept
        assert [e.id for e in (await store.replay("a", 3)).events] == [4, 5, 6, 7, 8]
        assert (await store.replay("a", 2)).reset  # event 3 is gone: a gap
        assert (await store.replay("a", 0)).reset

    async def test_a_cursor_ahead_of_the_history_is_a_reset(self, store):
        """The store lost its data (a flushed Redis): the client's ids mean nothing now."""
        await append(store, "a", {})
        assert (await store.replay("a", 5)).reset
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
            assert [e.id for e in received] == [1, 2, 3]
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
        await append(store, "a", {})
        await store.clear("a")
        assert (await store.replay("a", None)).last_id == 0
        assert (await append(store, "a", {})).id == 1


class TestMemoryHistory(HistoryContract):
    def configure(self, settings):
        realtime_settings(
            settings,
            HISTORY_BACKEND="realtime.history.memory.MemoryHistory",
            HISTORY_SIZE=self.size,
        )


@pytest.mark.redis
class TestRedisHistory(HistoryContract):
    @pytest.fixture(autouse=True)
    def _redis(self, redis_url: str) -> None:
        self.redis_url = redis_url

    def configure(self, settings):
        realtime_settings(
            settings,
            HISTORY_BACKEND="realtime.history.redis.RedisHistory",
            HISTORY_SIZE=self.size,
            REDIS_URL=self.redis_url,
        )

    async def test_keys_expire_after_the_last_event(self, store, settings):
        import redis.asyncio

        realtime_settings(settings, HISTORY_TTL=60)
        await append(get_history(), "a", {})
        client = redis.asyncio.Redis.from_url(self.redis_url)
        keys = await client.keys(f"{settings.REALTIME['KEY_PREFIX']}:*")
        assert len(keys) == 2
        assert all(0 < ttl <= 60 for ttl in [await client.ttl(key) for key in keys])
        await client.aclose()
