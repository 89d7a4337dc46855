"""Tracker tests' tools: a tracker with test timings, a store that counts its calls, and
connections opened and closed in one turn."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from presence.backends import PresenceConnection, StoreUnavailable
from presence.backends.memory import MemoryPresenceStore
from presence.tracker import Tracker

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
        "write_gap": 0,  # every write at once (tests of the gap ask for one)
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
