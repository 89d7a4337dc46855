"""Sending events to the history store, in order, one loop at a time.

``realtime.publish`` hands each event over as an ``Outgoing``; the ``Sender`` of the loop that
sends it appends it to the topic's history, in order, the events queued meanwhile together (or
announces a snapshot, in order with the other snapshots), and counts what is still pending so
``publish.flush`` can wait for it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import redis

from realtime import metrics
from realtime.backends.base import HistoryStore
from realtime.protocol import make_event

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Outgoing:
    """An event on its way out."""

    topic: str
    type: str
    data: dict[str, Any]
    data_json: str
    recoverable: bool
    ts: float = field(default=0.0)


# Per event loop: events (and snapshot requests) handed over and not yet sent. Process-wide,
# not a runtime's: ``flush`` waits for every loop, including the runtimes a reset replaced.
_pending: Counter[asyncio.AbstractEventLoop] = Counter()
pending_changed = threading.Condition()


def add_pending(loop: asyncio.AbstractEventLoop, n: int) -> None:
    """``n`` more (or fewer) items handed over on ``loop`` and not yet sent."""
    with pending_changed:
        _pending[loop] += n
        if _pending[loop] <= 0:
            del _pending[loop]
            pending_changed.notify_all()


def outstanding() -> int:
    """Items handed over and not yet sent, on loops still open."""
    with pending_changed:
        return sum(n for loop, n in _pending.items() if not loop.is_closed())


async def _send(history: HistoryStore, items: list[Outgoing]) -> None:
    """Send a run of items: events all together, or one snapshot."""
    if items[0].recoverable:
        await history.append_many(
            [(item.topic, item.type, item.data, item.ts, item.data_json) for item in items]
        )
    else:
        [item] = items
        event = make_event(item.type, item.data, ts=item.ts, data_json=item.data_json)
        await history.announce(item.topic, event)


class Sender:
    """Sends what the loop publishes (the loop's ``realtime.runtime.Runtime`` holds it), in two
    lanes, each in submission order: events, the ones queued while a run is sent going
    together next (``HistoryStore.append_many``: one round trip to Redis, or to the region
    that numbers a topic), and snapshots, one at a time. A snapshot never waits for events
    being numbered: in a region far from a broadcast's home that is a round trip across the
    link, and a snapshot (latest wins: totals, counts) stands on its own, not after an event."""

    MAX_RUN = 200  # events sent together at most

    def __init__(self, loop: asyncio.AbstractEventLoop, history: HistoryStore) -> None:
        self.loop = loop
        self._events = _Lane(loop, history, run=self.MAX_RUN)
        self._snapshots = _Lane(loop, history, run=1)

    def submit(self, item: Outgoing) -> None:
        """Queue ``item``; call on the sender's loop."""
        (self._events if item.recoverable else self._snapshots).submit(item)


class _Lane:
    """Items of one kind, sent in order: up to ``run`` of them at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, history: HistoryStore, *, run: int) -> None:
        self.loop = loop
        self.history = history
        self.run = run
        self._queue: deque[Outgoing] = deque()
        self._task: asyncio.Task[None] | None = None

    def submit(self, item: Outgoing) -> None:
        self._queue.append(item)
        if self._task is None:
            self._task = self.loop.create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._queue:
                items = [self._queue.popleft() for _ in range(min(self.run, len(self._queue)))]
                try:
                    try:
                        await _send(self.history, items)
                    except redis.ConnectionError:
                        # A pooled connection that a Redis restart closed fails its first
                        # command before it reaches the server: send once more on a new one.
                        await _send(self.history, items)
                except Exception:
                    metrics.REDIS_ERRORS.labels("publish").inc()
                    logger.exception(
                        "realtime: could not publish %s to %s", items[0].type, items[0].topic
                    )
                else:
                    for item in items:
                        metrics.EVENTS_PUBLISHED.labels(item.type).inc()
                finally:
                    add_pending(self.loop, -len(items))
        finally:
            self._task = None
