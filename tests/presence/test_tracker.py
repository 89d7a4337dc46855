"""The per-process tracker as viewers see it: joins and leaves announced, debounced viewer
counts, the grace period."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from presence.backends.memory import MemoryPresenceStore
from presence.tracker import Tracker
from tests.presence.conftest import Capture
from tests.presence.trackers import (
    DEBOUNCE,
    GRACE,
    TOPIC,
    make_tracker,
    member,
    open_at_once,
    settle,
)


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
    assert published.of_type("viewers")[-1] == {"count": 4}  # people: user 1's tabs count once


async def test_presence_events_carry_counts_only_above_the_cap(published: Capture) -> None:
    capped = make_tracker(max_listed_users=3)

    async def join(uids: range) -> dict[str, Any]:
        # All at once, so inside one debounce window.
        await open_at_once(capped, {f"c{uid}": member(uid) for uid in uids})
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
