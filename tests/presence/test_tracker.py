"""The per-process tracker: heartbeats, debounced viewer counts and presence events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from presence import selectors, tracker
from presence.backends import Connection
from presence.backends.memory import MemoryPresenceStore
from presence.backends.redis import RedisPresenceStore
from presence.tracker import Tracker
from realtime.testing import CapturedEvent, capture_events
from tests.presence.conftest import Capture

TOPIC = "broadcast.1"
GRACE = 0.2
DEBOUNCE = 0.05


def member(uid: int) -> dict[str, Any]:
    return {"id": uid, "username": f"user{uid}", "display_name": f"User {uid}"}


def make_tracker(**overrides: Any) -> Tracker:
    options: dict[str, Any] = {
        "store": MemoryPresenceStore(ttl=10 + GRACE, grace=GRACE),
        "heartbeat_interval": 10,  # no heartbeat tick inside a test unless it asks for one
        "debounce": DEBOUNCE,
        "max_listed_users": 50,
        **overrides,
    }
    return Tracker(**options)


@pytest.fixture
async def presence() -> AsyncIterator[Tracker]:
    t = make_tracker()
    yield t
    t.close()


async def settle(seconds: float = DEBOUNCE * 3) -> None:
    """Let pending debounce timers fire."""
    await asyncio.sleep(seconds)


async def test_first_viewer_is_announced_at_once(presence: Tracker, published: Capture) -> None:
    await presence.connection_opened(topic=TOPIC, connection_id="c1", user=None)
    await asyncio.sleep(DEBOUNCE / 5)

    assert [(event.topic, event.type, event.data) for event in published] == [
        (TOPIC, "viewers", {"count": 1})
    ]


async def test_join_storm_sends_a_bounded_number_of_exact_counts(
    presence: Tracker, published: Capture
) -> None:
    started = time.monotonic()
    for i in range(5000):
        await presence.connection_opened(topic=TOPIC, connection_id=f"c{i}", user=None)
        if i % 50 == 0:
            await asyncio.sleep(0)  # a real server interleaves other work
    for i in range(0, 5000, 4):
        await presence.connection_closed(topic=TOPIC, connection_id=f"c{i}", user=None)
    elapsed = time.monotonic() - started
    await settle()

    counts = [data["count"] for data in published.of_type("viewers")]
    assert len(counts) <= elapsed / DEBOUNCE + 2
    assert counts[-1] == 3750 == presence.store.viewer_counts([TOPIC])[TOPIC]
    assert {event.recoverable for event in published} == {False}


async def test_signed_in_viewers_joining_are_listed(presence: Tracker, published: Capture) -> None:
    for uid in (1, 2, 3):
        await presence.connection_opened(topic=TOPIC, connection_id=f"c{uid}", user=member(uid))
    await presence.connection_opened(topic=TOPIC, connection_id="c1b", user=member(1))  # 2nd tab
    await presence.connection_opened(topic=TOPIC, connection_id="anon", user=None)
    await settle()

    joined = [user for data in published.of_type("presence") for user in data["joined"]]
    assert joined == [member(1), member(2), member(3)]
    assert published.of_type("viewers")[-1] == {"count": 5}


async def test_presence_events_carry_counts_only_above_the_cap(published: Capture) -> None:
    capped = make_tracker(max_listed_users=3)

    async def join(uids: range) -> dict[str, Any]:
        for uid in uids:  # all inside one debounce window
            await capped.connection_opened(topic=TOPIC, connection_id=f"c{uid}", user=member(uid))
        await settle()
        return published.of_type("presence")[-1]

    try:
        await join(range(1))  # the first change after a quiet spell goes out alone
        at_cap = await join(range(1, 4))
        above_cap = await join(range(4, 8))
    finally:
        capped.close()

    assert at_cap["joined"] == [member(1), member(2), member(3)]
    assert above_cap == {"joined": [], "left": [], "joined_count": 4, "left_count": 0}


async def test_user_leaves_only_after_the_grace_period(
    presence: Tracker, published: Capture
) -> None:
    await presence.connection_opened(topic=TOPIC, connection_id="c1", user=member(1))
    await settle()
    await presence.connection_closed(topic=TOPIC, connection_id="c1", user=member(1))
    await asyncio.sleep(GRACE / 2)

    assert published.of_type("viewers")[-1] == {"count": 0}  # the count drops at once
    assert [data["left"] for data in published.of_type("presence")] == [[]]

    await asyncio.sleep(GRACE)

    assert published.of_type("presence")[-1] == {
        "joined": [],
        "left": [member(1)],
        "joined_count": 0,
        "left_count": 1,
    }


async def test_reconnect_inside_the_grace_period_shows_no_leave_nor_join(
    presence: Tracker, published: Capture
) -> None:
    await presence.connection_opened(topic=TOPIC, connection_id="c1", user=member(1))
    await settle()
    await presence.connection_closed(topic=TOPIC, connection_id="c1", user=member(1))
    await asyncio.sleep(GRACE / 2)
    await presence.connection_opened(topic=TOPIC, connection_id="c2", user=member(1))
    await asyncio.sleep(GRACE * 2)

    assert published.of_type("presence") == [
        {"joined": [member(1)], "left": [], "joined_count": 1, "left_count": 0}
    ]
    assert published.of_type("viewers")[-1] == {"count": 1}


async def test_reconnect_through_another_process_shows_no_leave(published: Capture) -> None:
    """Two trackers on one store stand for two processes of a deployment."""
    store = MemoryPresenceStore(ttl=10 + GRACE, grace=GRACE)
    first, second = make_tracker(store=store), make_tracker(store=store)
    try:
        await first.connection_opened(topic=TOPIC, connection_id="c1", user=member(1))
        await settle()
        await first.connection_closed(topic=TOPIC, connection_id="c1", user=member(1))
        await second.connection_opened(topic=TOPIC, connection_id="c2", user=member(1))
        await asyncio.sleep(GRACE * 2)
    finally:
        first.close()
        second.close()

    assert [data["joined"] for data in published.of_type("presence")] == [[member(1)]]


async def test_one_task_heartbeats_every_connection_in_one_batch(published: Capture) -> None:
    interval = 0.05
    store = MemoryPresenceStore(ttl=interval + 0.05, grace=0.05)
    batches: list[int] = []
    heartbeat = store.aheartbeat

    async def recording(connections: list[Connection]) -> None:
        batches.append(len(connections))
        await heartbeat(connections)

    store.aheartbeat = recording  # type: ignore[method-assign]
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
        assert batches[:30] == [1] * 30  # each open counts at once
        assert len(batches) > 30
        assert set(batches[30:]) == {30}
    finally:
        beating.close()


async def test_heartbeat_picks_up_counts_changed_by_another_process(published: Capture) -> None:
    store = MemoryPresenceStore(ttl=1, grace=0.5)
    watching = make_tracker(store=store, heartbeat_interval=0.05)
    try:
        await watching.connection_opened(topic=TOPIC, connection_id="c1", user=None)
        store.heartbeat([Connection(TOPIC, "elsewhere")])  # a connection on another process
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
