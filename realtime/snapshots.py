"""A topic's state, read once for every viewer that joins while nothing is announced on it.

A stream's ``hello`` carries the state of what its topic is about (a broadcast, as REST shows
it), read after the connection joined the topic, so that nothing is missed between the two:
whatever changes after the read is announced on the topic and reaches the viewer live. In a
reconnect storm thousands of viewers join within seconds, and sharing only the read under way
(``NextFlight``) still reads the database back to back for as long as the storm lasts.

``TopicSnapshots`` keeps the last read of each key together with where the topic stood in this
loop's hub when the read began (``_Mark``: the hub's state of the topic and how many events it
had been handed). A viewer that has joined gets that read as long as the hub has been handed
nothing on the topic since: a change made after the read began has then not reached the hub,
so it reaches this viewer, who joined earlier, live; the viewer is as well off as with a read
of its own. An event handed on, or the topic emptying, and the next viewer reads again,
sharing that read as ``NextFlight`` shares; unless the owner says what the event does to the
read (``amend``): a snapshot such as the reaction totals, handed on several times a second,
then changes the read kept instead of starting the next one (a storm's viewers otherwise keep
the database reading back to back). What changes with nothing announced (a title edited)
shows within ``max_age``, at once in the process that made the change when it calls
``forget``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from realtime.coalesce import NextFlight
from realtime.protocol import Event
from realtime.runtime import runtime

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Mark:
    """Where a topic stood in the hub: its fan-out state (a new one after the topic emptied)
    and the number of events handed to it so far."""

    __slots__ = ("handed", "state")

    def __init__(self, state: Any, handed: int) -> None:
        self.state = state
        self.handed = handed

    @classmethod
    def of(cls, topic: str) -> _Mark | None:
        """Where ``topic`` stands in the running loop's hub; None when nobody there watches it."""
        state = runtime().hub.topics.get(topic)
        return None if state is None else cls(state, state.end)

    def since(self, topic: str) -> list[Event] | None:
        """The events handed to ``topic`` since this mark, while the hub still holds them all
        (until every subscriber has had them); None once it does not, or the topic emptied."""
        state = runtime().hub.topics.get(topic)
        if state is not self.state or self.handed < state.log_start:
            return None
        return state.log[self.handed - state.log_start :]


class _Read(Generic[V]):
    __slots__ = ("at", "mark", "value")

    def __init__(self, value: V, mark: _Mark, at: float) -> None:
        self.value = value
        self.mark = mark
        self.at = at  # time.monotonic() when the read began


class TopicSnapshots(Generic[K, V]):
    """``await snapshots.get(key)``: ``load(key)``'s answer, shared while the topic
    ``topic_of(key)`` is quiet (see the module's docstring).

    ``amend(value, event)``, when given, is what a read would be after ``event``, as far as
    the event tells: the value itself when the event changes nothing in it, a changed copy,
    or None when only a new read can say (and for a value of None)."""

    def __init__(
        self,
        load: Callable[[K], Awaitable[V]],
        *,
        topic_of: Callable[[K], str],
        max_age: float,
        amend: Callable[[V, Event], V | None] | None = None,
    ) -> None:
        self.load = load
        self.topic_of = topic_of
        self.max_age = max_age
        self.amend = amend
        self._reads: dict[K, _Read[V]] = {}
        self._flights: NextFlight[K, V] = NextFlight(self._read)
        self._forgotten = 0  # bumped by forget(): a read under way then is not kept
        self._swept_at = time.monotonic()

    async def get(self, key: K) -> V:
        """The state for a viewer that has joined the topic: as fresh as a read of its own."""
        read = self._reads.get(key)
        if read is not None and time.monotonic() - read.at < self.max_age:
            read = self._brought_up_to_date(key, read)
            if read is not None:
                return read.value
        return await self._flights.get(key)

    def _brought_up_to_date(self, key: K, read: _Read[V]) -> _Read[V] | None:
        """``read`` as it stands after what has been handed to the topic since it began,
        kept so; None when that takes a new read."""
        events = read.mark.since(self.topic_of(key))
        if not events:
            return None if events is None else read
        if self.amend is None:
            return None
        forgotten, value = self._forgotten, read.value
        for event in events:
            value = self.amend(value, event)  # type: ignore[arg-type]
            if value is None:
                return None
        read = _Read(value, _Mark(read.mark.state, read.mark.handed + len(events)), read.at)
        if forgotten == self._forgotten:
            self._reads[key] = read
        return read

    async def get_recent(self, key: K) -> V:
        """The state as it was at most ``max_age`` ago, or as a read under way finds it: for
        what may be a moment old (whether something exists, before joining its topic)."""
        read = self._reads.get(key)
        if read is not None and time.monotonic() - read.at < self.max_age:
            return read.value
        return await self._flights.get(key, fresh=False)

    def forget(self, key: K) -> None:
        """``key`` changed with nothing announced on its topic: the next viewer reads again (may
        be called from any thread)."""
        self._forgotten += 1
        self._reads.pop(key, None)

    async def _read(self, key: K) -> V:
        topic, forgotten = self.topic_of(key), self._forgotten
        mark, at = _Mark.of(topic), time.monotonic()
        value = await self.load(key)
        if mark is not None and forgotten == self._forgotten:
            self._drop_old(at)
            self._reads[key] = _Read(value, mark, at)
        return value

    def _drop_old(self, now: float) -> None:
        """Reads past ``max_age`` are dropped, once per ``max_age`` at most: a key nobody joins
        any more keeps nothing for long, and many keys cost no walk per read."""
        if now - self._swept_at < self.max_age:
            return
        self._swept_at = now
        # A copy first: ``forget`` may drop one from another thread meanwhile.
        for key, read in list(self._reads.items()):
            if now - read.at >= self.max_age:
                self._reads.pop(key, None)
