"""Coalesced loads: many concurrent callers, one load, never a stale answer.

When ten thousand viewers reconnect at once, each asks the database the same thing (does the
broadcast exist, what does its ``hello`` say). ``NextFlight`` runs one load for all of them: a
caller shares the next load that *starts after it asked*, never one already under way, so what
it gets is as fresh as a load of its own would have been (a connection that joined its topic
before asking cannot miss a change). At most two loads per key run in series, however many
callers wait; when nobody waits, nothing is kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


@dataclass
class _Flights(Generic[V]):
    running: asyncio.Future[V] | None = None  # the load under way
    boarding: asyncio.Future[V] | None = None  # the next load: callers join until it starts
    task: asyncio.Task[None] | None = None  # runs the loads, one after another


class NextFlight(Generic[K, V]):
    """``await flights.get(key)``: the result of a ``load(key)`` started after the call."""

    def __init__(self, load: Callable[[K], Awaitable[V]]) -> None:
        self.load = load
        # Per event loop, per key: futures belong to one loop (tests run a loop per test).
        self._flights: dict[tuple[asyncio.AbstractEventLoop, K], _Flights[V]] = {}

    async def get(self, key: K) -> V:
        loop = asyncio.get_running_loop()
        flights = self._flights.setdefault((loop, key), _Flights())
        mine = flights.boarding
        if mine is None:
            mine = flights.boarding = loop.create_future()
            # A load that failed while every caller had gone must not warn at exit.
            mine.add_done_callback(_retrieve)
        if flights.task is None:
            flights.task = loop.create_task(self._fly(loop, key, flights))
        # Shielded: one caller giving up (its connection closed) does not cancel the others'.
        return await asyncio.shield(mine)

    async def _fly(self, loop: asyncio.AbstractEventLoop, key: K, flights: _Flights[V]) -> None:
        """Run loads while callers board; each load takes everyone who boarded before it."""
        try:
            while flights.boarding is not None:
                done = flights.running = flights.boarding
                flights.boarding = None
                try:
                    done.set_result(await self.load(key))
                except Exception as exc:
                    done.set_exception(exc)
        finally:
            flights.running = flights.task = None
            del self._flights[(loop, key)]


def _retrieve(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()
