"""Sending events to the history store, in order, one loop at a time.

``realtime.publish`` hands each event over as an ``Outgoing``; the ``Sender`` of the loop that
sends it appends it to the topic's history (or announces a snapshot), one after another, and
counts what is still pending so ``publish.flush`` can wait for it.
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


async def _send(history: HistoryStore, item: Outgoing) -> None:
    if item.recoverable:
        await history.append(item.topic, item.type, item.data, ts=item.ts, data_json=item.data_json)
    else:
        event = make_event(item.type, item.data, ts=item.ts, data_json=item.data_json)
        await history.announce(item.topic, event)


class Sender:
    """Sends events one after another, in submission order, on one event loop (the loop's
    ``realtime.runtime.Runtime`` holds it)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, history: HistoryStore) -> None:
        self.loop = loop
        self.history = history
        self._queue: deque[Outgoing] = deque()
        self._task: asyncio.Task[None] | None = None

    def submit(self, item: Outgoing) -> None:
        """Queue ``item``; call on the sender's loop."""
        self._queue.append(item)
        if self._task is None:
            self._task = self.loop.create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._queue:
                item = self._queue.popleft()
                try:
                    try:
                        await _send(self.history, item)
                    except redis.ConnectionError:
                        # A pooled connection that a Redis restart closed fails its first
                        # command before it reaches the server: send once more on a new one.
                        await _send(self.history, item)
                except Exception:
                    metrics.REDIS_ERRORS.labels("publish").inc()
                    logger.exception("realtime: could not publish %s to %s", item.type, item.topic)
                else:
                    metrics.EVENTS_PUBLISHED.labels(item.type).inc()
                finally:
                    add_pending(self.loop, -1)
        finally:
            self._task = None
