"""The in-process backend: the embedded default, with no Redis.

The store keeps history in memory and hands events straight to the hubs it made, one per event
loop (the server's, and in tests one per test). One lock makes numbering, retaining and handing
over a single step, so events published from different threads keep their id order.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from typing import Any

from realtime.backends.base import HistoryStore, Replay, counter_start
from realtime.hub import Hub
from realtime.protocol import Event, make_event


class _Log:
    __slots__ = ("events", "last_id", "start")

    def __init__(self, size: int) -> None:
        self.events: deque[Event] = deque(maxlen=size)
        # From the clock, so a restarted process's ids follow the previous process's.
        self.start = self.last_id = counter_start()


class MemoryHistory(HistoryStore):
    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._lock = threading.Lock()
        self._logs: dict[str, _Log] = {}
        self._hubs: dict[asyncio.AbstractEventLoop, Hub] = {}

    def make_hub(self, **options: Any) -> Hub:
        hub = Hub(**options)
        with self._lock:
            for loop in [loop for loop in self._hubs if loop.is_closed()]:
                del self._hubs[loop]
            self._hubs[hub.loop] = hub
        return hub

    def _deliver(self, topic: str, event: Event) -> None:
        """Hand an event to the hubs watching the topic, from any thread, in call order."""
        for loop, hub in list(self._hubs.items()):
            if topic in hub.topics:
                with contextlib.suppress(RuntimeError):  # that loop has closed
                    loop.call_soon_threadsafe(hub.deliver, topic, event)

    async def append(
        self, topic: str, event_type: str, data: dict[str, Any], *, ts: float, data_json: str
    ) -> Event:
        with self._lock:
            log = self._logs.get(topic)
            if log is None:
                log = self._logs[topic] = _Log(self.size)
            log.last_id += 1
            event = make_event(event_type, data, event_id=log.last_id, ts=ts, data_json=data_json)
            log.events.append(event)
            self._deliver(topic, event)
        return event

    async def announce(self, topic: str, event: Event) -> None:
        with self._lock:
            self._deliver(topic, event)

    async def replay(self, topic: str, after: int | None) -> Replay:
        with self._lock:
            log = self._logs.get(topic)
            if log is None:
                return self.replay_from(after, retained=[], first_id=None, last_id=0, start=None)
            retained = [e for e in log.events if after is not None and e.id > after]  # type: ignore[operator]
            first_id = log.events[0].id if log.events else None
            return self.replay_from(
                after, retained=retained, first_id=first_id, last_id=log.last_id, start=log.start
            )

    async def clear(self, topic: str) -> None:
        with self._lock:
            self._logs.pop(topic, None)
