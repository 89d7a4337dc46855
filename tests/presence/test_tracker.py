"""The per-process tracker: heartbeats, debounced viewer counts and presence events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, TypeVar

import pytest

from presence import selectors, tracker
from presence.backends import PresenceConnection, StoreUnavailable
from presence.backends.memory import MemoryPresenceStore
from presence.backends.redis import RedisPresenceStore
from presence.tracker import Tracker
from realtime.testing import CapturedEvent, capture_events
from tests.presence.conftest import Capture

TOPIC = "broadcast.1"
GRACE = 0.2
DEBOUNCE = 0.05
T = TypeVar("T")


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


class CountingStore(MemoryPresenceStore):
    """The memory store, recording the tracker's writes (and its lookups of newcomers) as
    ``(method, how many)``. ``down``: they fail. ``held``: each heartbeat first waits for a
    release of that semaphore.
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**{"ttl": 10 + GRACE, "grace": GRACE, **kwargs})
        self.calls: list[tuple[str, int]] = []
        self.down = False
        self.held: asyncio.Semaphore | None = None

    async def aheartbeat(self, connections: Iterable[PresenceConnection]) -> None:
        connections = self._record("heartbeat", connections)
        if self.held:
            await self.held.acquire()
        self.heartbeat(connections)

    async def aremove(self, connections: Iterable[PresenceConnection]) -> None:
        self.remove(self._record("remove", connections))

    async def ausers_on_topic(self, topic: str, user_ids: Iterable[int]) -> set[int]:
        return self.users_on_topic(topic, self._record("users_on_topic", user_ids))

    def _record(self, method: str, items: Iterable[T]) -> list[T]:
        items = list(items)
        self.calls.append((method, len(items)))
        if self.down:
            raise StoreUnavailable("No connection available.")
        return items

    def counted(self, method: str) -> list[int]:
        return [count for name, count in self.calls if name == method]


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


@pytest.fixture
async def presence(store: CountingStore) -> AsyncIterator[Tracker]:
    t = make_tracker(store=store)
    yield t
    t.close()


async def settle(seconds: float = DEBOUNCE * 3) -> None:
    """Let pending debounce timers fire."""
    await asyncio.sleep(seconds)


async def turns(count: int = 5) -> None:
    """Let the event loop run the tasks that are ready, a few turns over."""
    for _ in range(count):
        await asyncio.sleep(0)


async def open_at_once(presence: Tracker, viewers: Mapping[str, dict[str, Any] | None]) -> None:
    """Open these connections (id: user) on TOPIC in one turn, as a reconnect storm does."""
    await asyncio.gather(
        *(
            presence.connection_opened(topic=TOPIC, connection_id=c, user=u)
            for c, u in viewers.items()
        )
    )


async def close_at_once(presence: Tracker, viewers: Mapping[str, dict[str, Any] | None]) -> None:
    """Close them in one turn, as a server restart does."""
    await asyncio.gather(
        *(
            presence.connection_closed(topic=TOPIC, connection_id=c, user=u)
            for c, u in viewers.items()
        )
    )


def presence_of(joined: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A ``presence`` event's data for these users joining."""
    users = list(joined)
    return {"joined": users, "left": [], "joined_count": len(users), "left_count": 0}


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
