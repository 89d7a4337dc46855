"""The per-process tracker and its store: heartbeats and writes in batches, counts changed by
other processes, store failures, the configured store, the real publisher, uvloop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from presence import selectors, tracker
from presence.backends import PresenceConnection
from presence.backends.memory import MemoryPresenceStore
from presence.backends.redis import RedisPresenceStore
from presence.tracker import Tracker
from realtime.testing import CapturedEvent, capture_events
from tests.presence.conftest import Capture
from tests.presence.trackers import (
    GRACE,
    TOPIC,
    CountingStore,
    close_at_once,
    make_tracker,
    member,
    open_at_once,
    presence_of,
    settle,
    turns,
)


async def test_one_task_heartbeats_every_connection_in_one_batch(published: Capture) -> None:
    interval = 0.05
    store = CountingStore(ttl=interval + 0.05, grace=0.05)
    beating = make_tracker(store=store, heartbeat_interval=interval)
    try:
        for i in range(30):
            await beating.connection_opened(
                topic=f"broadcast.{i % 3}", connection_id=f"c{i}", user=None
            )
        await asyncio.sleep(interval * 6)  # several ttls: only heartbeats keep them counted

        assert store.viewer_counts(["broadcast.0", "broadcast.1"]) == {
            "broadcast.0": 10,
            "broadcast.1": 10,
        }
        batches = store.counted("heartbeat")
        assert batches[:30] == [1] * 30  # each open counts at once (awaited one by one here)
        assert len(batches) > 30
        assert set(batches[30:]) == {30}
    finally:
        beating.close()


async def test_anonymous_viewers_count_once_per_address_through_heartbeats(
    published: Capture,
) -> None:
    interval = 0.05
    store = CountingStore(ttl=interval + 0.05, grace=0.05)
    beating = make_tracker(store=store, heartbeat_interval=interval)
    home = "203.0.113.5"
    try:
        for cid in ("h0", "h1", "h2"):
            await beating.connection_opened(topic=TOPIC, connection_id=cid, user=None, client=home)
        await beating.connection_opened(
            topic=TOPIC, connection_id="o", user=None, client="2001:db8::1"
        )
        await beating.connection_opened(topic=TOPIC, connection_id="u", user=member(1), client=home)
        await asyncio.sleep(interval * 6)  # several ttls: only heartbeats keep them counted
        assert store.viewer_counts([TOPIC]) == {TOPIC: 3}

        # A close names no address: the one given at open is what the store counts.
        for cid in ("h0", "h1"):
            await beating.connection_closed(topic=TOPIC, connection_id=cid, user=None)
        await settle()
        assert published.of_type("viewers")[-1] == {"count": 3}
        await beating.connection_closed(topic=TOPIC, connection_id="h2", user=None)
        await settle()
        assert published.of_type("viewers")[-1] == {"count": 2}
    finally:
        beating.close()


async def test_connections_opened_at_once_are_stored_in_one_write(
    presence: Tracker, store: CountingStore, published: Capture
) -> None:
    await asyncio.gather(
        *(
            presence.connection_opened(
                topic=f"broadcast.{i % 2}",
                connection_id=f"c{i}",
                user=member(i) if i % 3 else None,  # 10 signed-in users on each topic
            )
            for i in range(30)
        )
    )
    await settle()

    # One lookup of the newcomers per topic, one heartbeat for all.
    assert store.calls == [("users_on_topic", 10), ("users_on_topic", 10), ("heartbeat", 30)]
    assert [(event.topic, event.type, event.data) for event in published] == [
        ("broadcast.0", "viewers", {"count": 15}),
        ("broadcast.0", "presence", presence_of(member(i) for i in range(2, 30, 2) if i % 3)),
        ("broadcast.1", "viewers", {"count": 15}),
        ("broadcast.1", "presence", presence_of(member(i) for i in range(1, 30, 2) if i % 3)),
    ]


async def test_connections_closed_at_once_are_removed_in_one_write(
    presence: Tracker, store: CountingStore, published: Capture
) -> None:
    viewers = {f"c{i}": member(i) if i % 2 else None for i in range(12)}
    await open_at_once(presence, viewers)
    await settle()
    store.calls.clear()

    await close_at_once(presence, viewers)

    assert store.calls == [("remove", 12)]
    assert store.viewer_counts([TOPIC]) == {TOPIC: 0}
    assert store.users_on_topic(TOPIC, [1, 3]) == {1, 3}  # in their grace period
    await asyncio.sleep(GRACE * 2)
    assert published.of_type("viewers")[-1] == {"count": 0}
    assert published.of_type("presence")[-1] == {
        "joined": [],
        "left": [member(i) for i in range(1, 12, 2)],
        "joined_count": 0,
        "left_count": 6,
    }


async def test_each_opener_returns_once_its_own_connection_counts(
    presence: Tracker, store: CountingStore, published: Capture
) -> None:
    """What a viewer's ``hello`` reads after ``connection_opened`` includes that viewer, also
    when its open came while a write was under way and went with the next one."""
    store.held = asyncio.Semaphore(0)
    seen: dict[str, int] = {}

    async def watch(connection_id: str) -> None:
        await presence.connection_opened(topic=TOPIC, connection_id=connection_id, user=None)
        seen[connection_id] = store.viewer_counts([TOPIC])[TOPIC]
        counted[connection_id] = presence.viewers_counted(TOPIC)  # what its hello shows

    counted: dict[str, int | None] = {}

    first = [asyncio.create_task(watch(f"a{i}")) for i in range(5)]
    await turns()  # their write is under way
    second = [asyncio.create_task(watch(f"b{i}")) for i in range(5)]
    await turns()
    store.held.release()
    await asyncio.gather(*first)

    assert seen == dict.fromkeys((f"a{i}" for i in range(5)), 5)
    assert not any(task.done() for task in second)  # their write is still held
    store.held.release()
    await asyncio.gather(*second)
    assert {seen[f"b{i}"] for i in range(5)} == {10}
    assert store.counted("heartbeat") == [5, 5]
    assert counted == seen


async def test_opens_arriving_faster_than_the_write_gap_share_writes(
    store: CountingStore, published: Capture
) -> None:
    """In a storm a write each turn would cost a round trip per handful of viewers: writes
    start a gap apart, and the opens that arrive meanwhile go together."""
    presence = make_tracker(store=store, write_gap=0.1)
    try:
        opening = []
        for i in range(10):
            opening.append(
                asyncio.create_task(
                    presence.connection_opened(topic=TOPIC, connection_id=f"c{i}", user=None)
                )
            )
            await asyncio.sleep(0.01)  # one every 10 ms: ten turns, ten batches without a gap
        await asyncio.gather(*opening)
        # The first at once; the next waits for the gap, and what comes meanwhile goes in the
        # one after it (without the gap: ten writes of one).
        writes = store.counted("heartbeat")
        assert writes[0] == 1
        assert sum(writes) == 10
        assert len(writes) <= 4
        assert presence.viewers_counted(TOPIC) == 10
    finally:
        presence.close()


async def test_a_store_failure_is_logged_once_per_batch_and_watching_goes_on(
    presence: Tracker, store: CountingStore, published: Capture, caplog: pytest.LogCaptureFixture
) -> None:
    viewers = {f"c{i}": member(i) for i in range(20)}
    store.down = True

    await open_at_once(presence, viewers)  # no error reaches the viewers
    await close_at_once(presence, viewers)

    failures = [r for r in caplog.records if r.getMessage() == "presence store call failed"]
    assert len(failures) == 2  # one per batch, not one per connection
    store.down = False
    await presence.connection_opened(topic=TOPIC, connection_id="back", user=member(99))
    await settle()
    assert store.viewer_counts([TOPIC]) == {TOPIC: 1}
    assert published.of_type("viewers")[-1] == {"count": 1}
    assert published.of_type("presence")[-1]["joined"] == [member(99)]


async def test_heartbeat_picks_up_counts_changed_by_another_process(published: Capture) -> None:
    store = MemoryPresenceStore(ttl=1, grace=0.5)
    watching = make_tracker(store=store, heartbeat_interval=0.05)
    try:
        await watching.connection_opened(topic=TOPIC, connection_id="c1", user=None)
        store.heartbeat([PresenceConnection(TOPIC, "elsewhere")])  # a connection on another process
        await asyncio.sleep(0.2)
    finally:
        watching.close()

    assert published.of_type("viewers")[-1] == {"count": 2}


async def test_module_functions_use_the_configured_store(settings: Any, published: Capture) -> None:
    settings.PRESENCE = {
        **settings.PRESENCE,
        "BACKEND": "presence.backends.memory.MemoryPresenceStore",
        "OPTIONS": {},
    }
    await tracker.connection_opened(topic=TOPIC, connection_id="c1", user=member(1))
    await tracker.connection_opened(topic=TOPIC, connection_id="c2", user=None)
    await tracker.connection_closed(topic=TOPIC, connection_id="c2", user=None)

    assert selectors.topic_viewer_count(TOPIC) == 1
    assert selectors.topic_users_present(TOPIC) == {1}
    state = selectors.users_presence([1, 2])
    assert state[1]["online"] is True
    assert state[1]["last_seen"] is not None
    assert state[1]["last_seen"].tzinfo is not None
    assert state[2] == {"online": False, "last_seen": None}
    tracker.get_tracker().close()


async def test_a_store_outage_never_breaks_watching(
    published: Capture, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = RedisPresenceStore(url="redis://127.0.0.1:1/0", ttl=1, grace=0.5)
    broken = make_tracker(store=unreachable)
    try:
        await broken.connection_opened(topic=TOPIC, connection_id="c1", user=member(1))
        await broken.connection_closed(topic=TOPIC, connection_id="c1", user=member(1))
        await settle()
    finally:
        broken.close()
        await unreachable.aclose()

    assert "presence store call failed" in caplog.text
    assert published == []


async def test_events_go_out_through_the_real_publisher(presence: Tracker) -> None:
    with capture_events() as events:
        await presence.connection_opened(topic=TOPIC, connection_id="c1", user=member(1))
        await settle()

    assert events == [
        CapturedEvent(TOPIC, "viewers", {"count": 1}, False),
        CapturedEvent(
            TOPIC,
            "presence",
            {"joined": [member(1)], "left": [], "joined_count": 1, "left_count": 0},
            False,
        ),
    ]


def test_runs_under_uvloop(published: Capture) -> None:
    """Production runs uvicorn on uvloop, whose call_at returns a Handle without when() for a
    time already past: joins that re-arm the debounce timer must still work."""
    import uvloop

    async def storm() -> None:
        presence = make_tracker(debounce=0.0)
        for n in range(20):
            await presence.connection_opened(topic=TOPIC, connection_id=f"c{n}", user=None)
        await settle()
        presence.close()

    uvloop.run(storm())
    viewers = [event.data for event in published if event.type == "viewers"]
    assert viewers[-1] == {"count": 20}
