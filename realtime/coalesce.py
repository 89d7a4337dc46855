"""Coalesced loads and writes: many callers, one load (never a stale one) or one write.

When ten thousand viewers reconnect at once, each asks the database the same thing (does the
broadcast exist, what does its ``hello`` say). ``NextFlight`` runs one load for all of them: a
caller shares the next load that *starts after it asked*, never one already under way, so what
it gets is as fresh as a load of its own would have been (a connection that joined its topic
before asking cannot miss a change). At most two loads per key run in series, however many
callers wait; when nobody waits, nothing is kept.

When they disconnect at once, each has one thing to store (stop counting me). ``NextBatch``
stores them together: the items added in one turn of the event loop, or while the previous
write is under way, go in one write, and each caller returns when that write is done, or raises
what it raised. Writes run one after another, so items reach the store in the order they were
added; when nothing is pending, nothing is kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K")
T = TypeVar("T")
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

    async def get(self, key: K, *, fresh: bool = True) -> V:
        """``fresh=False``: a load already under way will do too (for what may be a moment
        old, such as whether something exists: half the loads in a storm)."""
        loop = asyncio.get_running_loop()
        flights = self._flights.setdefault((loop, key), _Flights())
        if not fresh and flights.running is not None:
            return await asyncio.shield(flights.running)
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


@dataclass
class _Batches(Generic[T]):
    items: list[T] = field(default_factory=list)  # the next write's, added so far
    done: asyncio.Future[None] | None = None  # resolved when the next write has run
    task: asyncio.Task[None] | None = None  # runs the writes, one after another


class NextBatch(Generic[T]):
    """``await batches.add(item)``: returns once a ``write(items)`` that included ``item``
    has finished; raises what that write raised."""

    def __init__(self, write: Callable[[list[T]], Awaitable[None]]) -> None:
        self.write = write
        # Per event loop: futures belong to one loop (tests run a loop per test).
        self._batches: dict[asyncio.AbstractEventLoop, _Batches[T]] = {}

    async def add(self, item: T) -> None:
        loop = asyncio.get_running_loop()
        batches = self._batches.setdefault(loop, _Batches())
        mine = batches.done
        if mine is None:
            mine = batches.done = loop.create_future()
            mine.add_done_callback(_retrieve)
        batches.items.append(item)
        if batches.task is None:
            batches.task = loop.create_task(self._drain(loop, batches))
        # Shielded: a caller giving up does not take its item, nor the others', out of the
        # write; it is written all the same.
        await asyncio.shield(mine)

    async def _drain(self, loop: asyncio.AbstractEventLoop, batches: _Batches[T]) -> None:
        """Write what was added, then what was added meanwhile, until nothing is left."""
        try:
            while batches.items:
                items, batches.items = batches.items, []
                done, batches.done = batches.done, None
                assert done is not None
                try:
                    await self.write(items)
                except Exception as exc:
                    done.set_exception(exc)
                except BaseException:  # cancelled (the loop is shutting down)
                    done.cancel()
                    raise
                else:
                    done.set_result(None)
        finally:
            if batches.done is not None:  # cancelled with items waiting: their callers too
                batches.done.cancel()
            del self._batches[loop]


def _retrieve(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()
