"""Publishing: after commit only, never blocking, coalesced snapshots, captured in tests."""

from __future__ import annotations

import asyncio
import datetime
import itertools
import threading
import time

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.db import transaction

from realtime.protocol import Event
from realtime.publish import aflush, flush, publish, publish_latest
from realtime.runtime import get_history, get_hub
from realtime.testing import CapturedEvent, capture_events
from tests.realtime.streamtools import consecutive, realtime_settings
from tests.realtime.test_history import Collector

User = get_user_model()
db = pytest.mark.django_db(transaction=True)


def retained(topic: str) -> list[Event]:
    """The topic's retained events (all of them: what a client that has seen none gets)."""
    return asyncio.run(get_history().replay(topic, 0)).events


@db
def test_inside_a_transaction_nothing_goes_out_before_commit():
    with capture_events() as events:
        with transaction.atomic():
            User.objects.create(username="u")
            publish("t", "made", {"n": 1})
            assert events == []
        assert events == [CapturedEvent("t", "made", {"n": 1}, True)]
        flush()
    assert len(retained("t")) == 1


@db
def test_nothing_goes_out_for_a_rolled_back_transaction():
    def fail(n: int) -> None:
        with transaction.atomic():
            publish("t", "made", {"n": n})
            raise RuntimeError

    with capture_events() as events:
        with pytest.raises(RuntimeError):
            fail(1)
        with transaction.atomic():
            with pytest.raises(RuntimeError):
                fail(2)  # a savepoint rolled back
            publish("t", "made", {"n": 3})
        flush()
    assert events == [CapturedEvent("t", "made", {"n": 3}, True)]
    assert len(retained("t")) == 1


@db
def test_outside_a_transaction_it_goes_out_at_once():
    with capture_events() as events:
        publish("t", "viewers", {"count": 2}, recoverable=False)
    assert events == [CapturedEvent("t", "viewers", {"count": 2}, False)]


@db
def test_captured_data_is_what_a_client_decodes():
    with capture_events() as events:
        publish("t", "made", {"pair": (1, 2), "text": "✓"})
    assert events[0].data == {"pair": [1, 2], "text": "✓"}


def test_data_json_cannot_carry_fails_where_the_event_is_built():
    with capture_events() as events, pytest.raises(TypeError):
        publish("t", "made", {"when": datetime.datetime.now()})
    with pytest.raises(ValueError, match="Out of range float"):
        publish("t", "made", {"n": float("nan")})
    assert events == []


@db
async def test_a_committed_event_reaches_subscribers_in_order():
    collector = Collector()
    hub = get_hub()
    await hub.join("t", collector)

    @database_sync_to_async
    def change() -> None:
        for n in range(3):
            with transaction.atomic():
                User.objects.create(username=f"u{n}")
                publish("t", "made", {"n": n})

    await change()
    received = await collector.wait_for(3)
    assert [e.data["n"] for e in received] == [0, 1, 2]
    assert [e.id for e in received] == consecutive(received[0].id, 3)
    hub.leave("t", collector)


async def test_from_async_code_it_goes_out_on_the_running_loop():
    collector = Collector()
    hub = get_hub()
    await hub.join("t", collector)
    for n in range(3):
        publish("t", "made", {"n": n})
    publish("t", "viewers", {"count": 1}, recoverable=False)
    received = await collector.wait_for(4)
    assert [e.type for e in received] == ["made", "made", "made", "viewers"]
    assert [e.id for e in received] == [*consecutive(received[0].id, 3), None]
    hub.leave("t", collector)


@db
def test_publishing_never_waits_for_redis(settings, caplog):
    """With Redis unreachable the caller returns at once; the publisher logs the failure."""
    realtime_settings(
        settings,
        HISTORY_BACKEND="realtime.backends.redis.RedisHistory",
        REDIS_URL="redis://127.0.0.1:1/0",
    )
    started = time.perf_counter()
    for n in range(20):
        publish("t", "made", {"n": n})
    assert time.perf_counter() - started < 0.05
    flush(timeout=30)
    assert "could not publish made to t" in caplog.text


@db
def test_snapshots_are_coalesced_and_the_last_one_is_built_after_the_last_commit(settings):
    realtime_settings(settings, SNAPSHOT_INTERVAL=0.2)

    def count() -> dict[str, int]:
        return {"users": User.objects.count()}

    with capture_events() as events:
        with transaction.atomic():
            User.objects.create(username="first")
            publish_latest("t", "users", count)
            time.sleep(0.05)
            assert events == []  # not before commit
        started = time.monotonic()
        for n in range(30):
            with transaction.atomic():
                User.objects.create(username=f"u{n}")
                publish_latest("t", "users", count)
        elapsed = time.monotonic() - started
        flush()
    assert len(events) <= 2 + elapsed / 0.2
    assert events[-1] == CapturedEvent("t", "users", {"users": 31}, False)


@db
def test_snapshots_are_at_least_an_interval_apart(settings):
    realtime_settings(settings, SNAPSHOT_INTERVAL=0.1)
    sent: list[float] = []
    lock = threading.Lock()

    def build() -> dict[str, int]:
        with lock:
            sent.append(time.monotonic())
        return {}

    deadline = time.monotonic() + 0.45
    while time.monotonic() < deadline:
        publish_latest("t", "tick", build)
        time.sleep(0.005)
    flush()
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert 3 <= len(sent) <= 6
    assert min(gaps) >= 0.095


async def test_aflush_waits_for_events_published_on_the_loop():
    for n in range(5):
        publish("t", "made", {"n": n})
    await aflush()
    assert len((await get_history().replay("t", 0)).events) == 5


async def test_events_queued_while_one_is_sent_go_out_together_in_order():
    history = get_history()
    runs: list[list[int]] = []
    append_many = history.append_many

    async def recording(entries):
        runs.append([data["n"] for _, _, data, _, _ in entries])
        await append_many(entries)

    history.append_many = recording  # type: ignore[method-assign]
    try:
        publish("t", "made", {"n": 0})
        await asyncio.sleep(0)  # the first is on its way
        for n in range(1, 6):
            publish("t" if n % 2 else "u", "made", {"n": n})
        await aflush()
    finally:
        del history.append_many
    assert runs == [[0], [1, 2, 3, 4, 5]]
    assert [e.data["n"] for e in (await history.replay("t", 0)).events] == [0, 1, 3, 5]


async def test_a_snapshot_does_not_wait_for_the_events_before_it():
    """An event's append may be a round trip across regions; a snapshot published after it
    goes out meanwhile, and the event follows."""
    history, hub, viewer = get_history(), get_hub(), Collector()
    appended = asyncio.Event()
    append_many = history.append_many

    async def slow(entries):
        await appended.wait()
        await append_many(entries)

    history.append_many = slow  # type: ignore[method-assign]
    await hub.join("t", viewer)
    try:
        publish("t", "made", {"n": 0})
        publish("t", "totals", {"n": 1}, recoverable=False)
        [snapshot] = await viewer.wait_for(1)
        assert (snapshot.type, snapshot.id) == ("totals", None)
        appended.set()
        await aflush()
        assert [e.type for e in await viewer.wait_for(2)] == ["totals", "made"]
    finally:
        del history.append_many
        hub.leave("t", viewer)
