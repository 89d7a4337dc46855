"""One client's stream of a topic (``realtime.connection``): opening, as many open at once."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

from realtime.backends.base import Replay
from realtime.backends.memory import MemoryHistory
from realtime.connection import Connection
from tests.realtime.streamtools import realtime_settings
from tests.realtime.test_history import append


class CountingHistory(MemoryHistory):
    """The in-process store, counting its replays."""

    replays = 0

    async def replay(self, topic: str, after: int | None) -> Replay:
        type(self).replays += 1
        return await super().replay(topic, after)


async def hello() -> dict[str, Any]:
    return {}


async def test_viewers_resuming_together_share_one_history_read(settings):
    realtime_settings(settings, HISTORY_BACKEND=f"{__name__}.CountingHistory", HISTORY_SIZE=100)
    from realtime.runtime import get_history

    store = get_history()
    ids = [(await append(store, "t", {"n": n})).id for n in range(1, 6)]
    CountingHistory.replays = 0
    connections = [
        Connection("t", transport="websocket", max_backlog=100, write_now=lambda batch: None)
        for _ in range(50)
    ]
    firsts = await asyncio.gather(*(c.open(ids[1], hello) for c in connections))
    assert CountingHistory.replays <= 2  # not one per viewer
    for first in firsts:
        assert [e.type for e in first] == ["hello", "x", "x", "x"]
        assert [e.id for e in first[1:]] == ids[2:]
        assert first[0].data["last_event_id"] == ids[-1]
    assert firsts[0][1] is firsts[-1][1]  # decoded once, shared
    for connection in connections:
        connection.close()


class Transport:
    """Stands for a transport: it holds its connection, which holds its callbacks."""

    connection: Connection

    def write_now(self, batch: Any) -> None:
        pass

    def on_overflow(self) -> None:
        pass


async def test_a_closed_connection_and_its_transport_are_freed_without_the_collector():
    """A transport and its connection refer to each other; once closed, the connection lets
    go of the transport's callbacks, so reference counting frees both at once instead of the
    collector's next full pass (rare in a server process: ``realtime.gcpolicy``)."""
    transport = Transport()
    transport.connection = Connection(
        "t", transport="websocket", max_backlog=10, write_now=transport.write_now,
        on_overflow=transport.on_overflow,
    )  # fmt: skip
    gone = weakref.ref(transport)
    gc.disable()
    try:
        transport.connection.close()
        del transport
        freed = gone() is None
    finally:
        gc.enable()
    assert freed
