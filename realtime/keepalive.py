"""Keep-alives: one timer per event loop for every open stream of it.

A stream that has sent nothing for its keep-alive interval sends a keep-alive frame, so
proxies and clients can tell a quiet stream from a dead one. ``KeepAliveTicker`` finds such
streams for the whole loop (the loop's ``realtime.runtime.Runtime`` holds it): one timer for
all of them, instead of a timeout re-armed on every wait of every writer (most of an SSE
frame's cost, and memory per connection; docs/performance.md). A keep-alive goes out up to a
quarter interval late. What the ticker needs of a stream is ``KeepAliveStream``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Protocol

from realtime.protocol import KEEPALIVE, Batch, make_event


class KeepAliveStream(Protocol):
    """A stream the ticker watches (``realtime.connection.Connection``)."""

    keepalive_interval: float  # seconds of silence before a keep-alive

    def keepalive_due(self, now: float) -> bool:
        """Whether the stream is idle and has sent nothing since ``now - keepalive_interval``."""

    def send_keepalive(self, keepalive: Callable[[], Batch]) -> None:
        """Write ``keepalive()`` (a shared batch) now, as the hub writes events."""


class KeepAliveTicker:
    """Finds the streams of one event loop that have been silent for their keep-alive interval
    and has a keep-alive written to each."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.streams: set[KeepAliveStream] = set()
        self.task: asyncio.Task[None] | None = None

    def watch(self, stream: KeepAliveStream) -> None:
        """Keep ``stream`` alive from now on, until ``forget``."""
        self.streams.add(stream)
        if self.task is None:
            self.task = self.loop.create_task(self._tick())

    def forget(self, stream: KeepAliveStream) -> None:
        """Stop watching ``stream`` (idempotent)."""
        self.streams.discard(stream)

    async def _tick(self) -> None:
        try:
            while self.streams:
                await asyncio.sleep(min(s.keepalive_interval for s in self.streams) / 4)
                now = self.loop.time()
                # One keep-alive frame for every stream written to on this tick.
                keepalive = functools.partial(_shared_keepalive, [])
                for stream in list(self.streams):  # a write may close one
                    if stream.keepalive_due(now):
                        stream.send_keepalive(keepalive)
        finally:
            self.task = None


def _shared_keepalive(made: list[Batch]) -> Batch:
    """The keep-alive batch of this tick (``made``: empty until the first asks for it)."""
    if not made:
        made.append(Batch([make_event(KEEPALIVE, {})]))
    return made[0]
