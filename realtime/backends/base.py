"""The backend contract: a history store that numbers and announces events, and its hub.

A backend is a pair: the store (one per process, shared by every thread) keeps bounded
per-topic history and announces each event, and its hub (``make_hub``, one per event loop)
hands what was announced to that loop's connections. Each backend is one module that holds
both halves: ``realtime.backends.memory`` (in-process, the embedded default) and
``realtime.backends.redis`` (which is ``realtime.backends.redis_cluster`` when ``REDIS_URL``
names a Redis Cluster node). ``REALTIME["HISTORY_BACKEND"]`` names the store's class.

A store is the single place that decides an event's id, so it is also the place that
announces it: assigning the id, retaining the event and handing it to every subscriber of the
topic happen as one step, which makes the order of ids the order of delivery everywhere.
Snapshots (id null) are announced through the same store without being retained.

Ids never start again. A topic's counter, whenever it is created (a new topic, or one whose
ids were lost: Redis restarted empty, the history expired, the process restarted), starts
from the clock (``counter_start``), so its ids are above every id given out before the loss
and a client resuming with an old id is told to ``reset`` rather than given the wrong events.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from realtime.protocol import Event

# An event to append: topic, type, data, ts, and the data already encoded (``append``'s).
Entry = tuple[str, str, dict[str, Any], float, str]

if TYPE_CHECKING:
    from realtime.hub import Hub


def counter_start() -> int:
    """Where a new id counter starts (its first id is one more): the time in microseconds
    since the epoch. That is later than every id an earlier counter of the topic gave out,
    unless it gave out more than a million a second on average (or the clock went back), and
    below 2**53 until the year 2255, so ids stay exact as JSON numbers, in JavaScript and as
    Redis sorted-set scores."""
    return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
class Replay:
    """What a client resuming after ``after`` gets."""

    last_id: int  # the newest id the topic has given out (0: none, or they were lost)
    events: list[Event] = field(default_factory=list)  # retained, id > after, oldest first
    reset: bool = False  # history does not cover ``after``: the client must refetch


class HistoryStore:
    """Base class for history stores; a setting names the one to use
    (``REALTIME["HISTORY_BACKEND"]``)."""

    def __init__(
        self, *, size: int, ttl: int = 0, redis_url: str = "", key_prefix: str = "rt"
    ) -> None:
        self.size = size  # events kept per topic
        self.ttl = ttl  # seconds a topic's history outlives its last event (0: for ever)
        self.redis_url = redis_url
        self.key_prefix = key_prefix  # for stores with a namespace

    async def start(self) -> None:
        """Get ready to serve before any client comes: called once per server process at
        startup (``realtime.lifespan``). Most stores need nothing; one that answers other
        processes' requests (the regions store) starts answering here."""

    @staticmethod
    def covers(after: int, *, first_id: int | None, last_id: int, start: int | None) -> bool:
        """Whether a client that has seen every event up to ``after`` can resume without a
        gap: it is up to date, or the first retained event directly follows what it has.
        ``after`` 0 (it came before the topic had ids) is covered while nothing has been
        trimmed since the counter started at ``start`` (None: not known). A client ahead of
        ``last_id`` saw ids this store no longer knows (it lost its data): that is not
        covered either."""
        if first_id is None:
            return after == last_id
        return first_id - 1 <= after <= last_id or (after == 0 and first_id - 1 == start)

    def replay_from(
        self,
        after: int | None,
        *,
        retained: list[Event],
        first_id: int | None,
        last_id: int,
        start: int | None,
    ) -> Replay:
        """A ``Replay`` from what a backend read; ``retained`` are the events with id > after."""
        if after is None:
            return Replay(last_id)
        if not self.covers(after, first_id=first_id, last_id=last_id, start=start):
            return Replay(last_id, reset=True)
        return Replay(last_id, retained)

    # Subclasses of HistoryStore must provide the following methods.

    def make_hub(self, **options: Any) -> Hub:
        """A hub for the running event loop that hands on everything this store announces
        from now on (``options``: ``Hub``'s keyword arguments)."""
        raise NotImplementedError("subclasses of HistoryStore must provide a make_hub() method")

    async def append(
        self, topic: str, event_type: str, data: dict[str, Any], *, ts: float, data_json: str
    ) -> Event:
        """Give the event the topic's next id (one more than the last; a new counter starts
        at ``counter_start()``), retain it (keeping the newest ``size`` events of the topic)
        and announce it to the topic's subscribers in every process, as one atomic step.
        ``data_json`` is ``data`` already encoded."""
        raise NotImplementedError("subclasses of HistoryStore must provide an append() method")

    async def append_many(self, entries: Sequence[Entry]) -> None:
        """``append`` each of ``entries`` in order; a store may send them in one round trip."""
        for topic, event_type, data, ts, data_json in entries:
            await self.append(topic, event_type, data, ts=ts, data_json=data_json)

    async def announce(self, topic: str, event: Event) -> None:
        """Hand an event without an id to the topic's subscribers in every process, without
        retaining it."""
        raise NotImplementedError("subclasses of HistoryStore must provide an announce() method")

    async def replay(self, topic: str, after: int | None) -> Replay:
        """The topic's newest id and, when ``after`` is given, the retained events newer than
        it in order (or ``reset`` when they no longer cover it), read at one instant."""
        raise NotImplementedError("subclasses of HistoryStore must provide a replay() method")

    async def clear(self, topic: str) -> None:
        """Forget the topic's events and ids (tests and operations)."""
        raise NotImplementedError("subclasses of HistoryStore must provide a clear() method")
