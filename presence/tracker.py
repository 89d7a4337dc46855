"""Connection presence: called by the stream consumers.

Each process keeps a table of its local connections. One background task per process
heartbeats all of them every ``HEARTBEAT_INTERVAL`` seconds in one batched store call, so the
connections of a process that dies lapse within ``HEARTBEAT_INTERVAL + GRACE_PERIOD``. Opens
and closes are batched too: those of one turn of the event loop, or made while the previous
store write was under way or waiting its turn (writes start ``WRITE_GAP`` apart at least), go
to the store together (``NextBatch``), so ten thousand viewers leaving at once cost one round
trip, not ten thousand; each ``connection_opened`` returns once the write that counts its
connection is done, so a ``hello`` read after it includes the viewer.

Events, per topic, come from every process that has local connections on it or just saw one
close; each process sends what it reads from the shared store, so all of them send the same
absolute numbers and a duplicate is harmless (latest wins):

- ``viewers`` ``{count}``: read from the store when the debounce timer fires, so it is exact
  across processes. A topic is flushed at most once per ``DEBOUNCE`` seconds (the first change
  after a quiet spell goes out at once), and every heartbeat re-reads the count, which is how
  changes made by other processes, or by a dead process's lapsing connections, reach a topic.
- ``presence`` ``{joined, left, joined_count, left_count}``: signed-in users who joined or left
  the topic's audience since the last flush. A user leaves only after ``GRACE_PERIOD`` with no
  connection to the topic in any process, so a reconnect inside it shows neither. Above
  ``MAX_LISTED_USERS`` users in one event, the lists are empty and only the counts say how many.
  Users whose only connection was on a process that died lapse silently (no ``left``).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import defaultdict
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import realtime.publish
from presence.backends import PresenceConnection, PresenceStore, get_store
from presence.conf import presence_config
from realtime.coalesce import NextBatch
from realtime.runtime import runtime

logger = logging.getLogger(__name__)

UserInfo = dict[str, Any]  # {id, username, display_name}: what presence events list
T = TypeVar("T")

# The snapshots presence announces on a topic: its viewer count, and who came and went.
VIEWERS_EVENT = "viewers"
PRESENCE_EVENT = "presence"

# A left check waits this much past the grace period, so the store has surely expired it.
SETTLE = 0.05
# Seconds between the starts of two writes of opens and closes at least: in a storm, what
# comes meanwhile goes in the next one (each costs a round trip and its commands however few
# it carries); a lone open after a quiet spell is written at once.
WRITE_GAP = 0.02


class _Local(NamedTuple):
    """What the store needs of a local connection at each heartbeat."""

    user: UserInfo | None
    client: str | None


@dataclass
class _TopicPresence:
    """This process's view of one topic."""

    connections: dict[str, _Local] = field(default_factory=dict)
    dirty: bool = False  # the viewer count may have changed since the last flush
    joined: dict[int, UserInfo] = field(default_factory=dict)
    leaving: dict[int, tuple[UserInfo, float]] = field(default_factory=dict)  # id -> (user, due)
    last_count: int | None = None
    counted: int | None = None  # the viewer count as the last write of opens and closes read it
    last_flush: float = -math.inf
    timer: asyncio.Handle | None = None
    # When the timer fires (uvloop's call_at gives a plain Handle, without when(), for a time
    # already past).
    timer_due: float = 0.0
    flushing: bool = False

    def has_user(self, user_id: int) -> bool:
        return any(user and user["id"] == user_id for user, _ in self.connections.values())

    def next_due(self, now: float) -> float | None:
        """When the next flush is needed, or None when nothing is pending."""
        dues = [when for _, when in self.leaving.values()]
        if self.dirty or self.joined:
            dues.append(now)
        return min(dues, default=None)


@dataclass(frozen=True, slots=True)
class _Change:
    """A connection opened or closed, stored with the others of its turn."""

    connection: PresenceConnection
    state: _TopicPresence
    newcomer: UserInfo | None = None  # opened by a signed-in user new to the topic
    closed: bool = False


class Tracker:
    """Presence for the connections of one process (one event loop)."""

    def __init__(
        self,
        *,
        store: PresenceStore,
        heartbeat_interval: float,
        debounce: float,
        max_listed_users: int,
        write_gap: float = WRITE_GAP,
    ):
        self.store = store
        self.write_gap = write_gap
        self.heartbeat_interval = heartbeat_interval
        self.debounce = debounce
        self.max_listed_users = max_listed_users
        self._topics: dict[str, _TopicPresence] = {}
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._changes = NextBatch(self._write)
        self._written_at = -math.inf  # when the last write of opens and closes began

    @classmethod
    def from_settings(cls) -> Tracker:
        config = presence_config()
        return cls(
            store=get_store(),
            heartbeat_interval=config.heartbeat_interval,
            debounce=config.debounce,
            max_listed_users=config.max_listed_users,
        )

    async def connection_opened(
        self, *, topic: str, connection_id: str, user: UserInfo | None, client: str | None = None
    ) -> None:
        """Count the connection at once; a signed-in user new to the topic has joined.
        ``client`` is the client's address: anonymous viewers count once per address."""
        if topic not in self._topics:
            self._spawn(self._safely(self.store.awatch(topic, self._changed), None))
        state = self._topics.setdefault(topic, _TopicPresence())
        uid = user["id"] if user else None
        newcomer = (
            uid is not None
            and not state.has_user(uid)
            and state.leaving.pop(uid, None) is None  # back inside the grace period
        )
        state.connections[connection_id] = _Local(user, client)
        self._ensure_heartbeat()
        change = _Change(
            PresenceConnection(topic, connection_id, uid, client),
            state,
            user if newcomer else None,
        )
        await self._changes.add(change)

    async def connection_closed(
        self, *, topic: str, connection_id: str, user: UserInfo | None, client: str | None = None
    ) -> None:
        """Stop counting the connection at once (unless its viewer has another); its user
        leaves after the grace period. The ``client`` given at open is the one that counts."""
        state = self._topics.get(topic)
        if state is None or connection_id not in state.connections:
            return
        client = state.connections.pop(connection_id).client  # what the store holds
        uid = user["id"] if user else None
        if uid is not None and not state.has_user(uid):
            due = asyncio.get_running_loop().time() + self.store.grace + SETTLE
            state.leaving[uid] = (user, due)
        await self._changes.add(
            _Change(PresenceConnection(topic, connection_id, uid, client), state, closed=True)
        )

    def viewers_counted(self, topic: str) -> int | None:
        """The topic's viewer count as the last write of opens and closes read it: once
        ``connection_opened`` has returned, one that counts that connection (None before
        any write, or when the store did not answer)."""
        state = self._topics.get(topic)
        return None if state is None else state.counted

    def close(self) -> None:
        """Stop the heartbeat and every pending flush (at shutdown, and in tests)."""
        for state in self._topics.values():
            if state.timer:
                state.timer.cancel()
        for task in [self._heartbeat_task, *self._tasks]:
            if task:
                task.cancel()
        self._topics.clear()

    def _changed(self, topic: str) -> None:
        self._topics.setdefault(topic, _TopicPresence()).dirty = True
        self._schedule(topic)

    def _schedule(self, topic: str) -> None:
        """Arm the topic's flush timer, at most one flush per debounce; forget idle topics."""
        state = self._topics.get(topic)
        if state is None or state.flushing:
            return  # closed, or the running flush schedules the next one when it ends
        loop = asyncio.get_running_loop()
        due = state.next_due(loop.time())
        if due is None:
            if not state.connections and not state.timer:
                del self._topics[topic]
                self._spawn(self._safely(self.store.aunwatch(topic), None))
            return
        due = max(due, state.last_flush + self.debounce)
        if state.timer:
            if state.timer_due <= due:
                return
            state.timer.cancel()
        state.timer = loop.call_at(due, self._start_flush, topic)
        state.timer_due = due

    def _start_flush(self, topic: str) -> None:
        state = self._topics[topic]
        state.timer = None
        state.flushing = True
        self._spawn(self._flush(topic, state))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self, topic: str, state: _TopicPresence) -> None:
        now = state.last_flush = asyncio.get_running_loop().time()
        try:
            if state.dirty:
                state.dirty = False
                count = (await self.store.aviewer_counts([topic]))[topic]
                if count != state.last_count:
                    state.last_count = count
                    self._publish(topic, VIEWERS_EVENT, {"count": count})
            left = await self._gone(topic, state, now)
            joined, state.joined = list(state.joined.values()), {}
            if joined or left:
                self._publish(topic, PRESENCE_EVENT, self._presence_data(joined, left))
            await self.store.ashare(topic)  # the other regions' totals count this one's
        except Exception:
            logger.exception("presence flush failed for %s", topic)
        finally:
            state.flushing = False
            self._schedule(topic)

    async def _write(self, changes: list[_Change]) -> None:
        """Store the connections opened and closed in one turn (or while the previous write
        was under way) together, then flush their topics.

        A failure ends the batch and is logged once: the store is down or stuck, and each
        further call would wait as long again. The next heartbeat counts the connections
        opened; the ones closed lapse within the ttl.
        """
        loop = asyncio.get_running_loop()
        wait = self._written_at + self.write_gap - loop.time()
        if wait > 0:  # (those that arrive meanwhile gather for the next write)
            await asyncio.sleep(wait)
        self._written_at = loop.time()
        await self._safely(self._store_changes(changes), None)
        for topic in dict.fromkeys(change.connection.topic for change in changes):
            self._changed(topic)

    async def _store_changes(self, changes: list[_Change]) -> None:
        # Newcomers are looked up before the heartbeat counts them: a user who is on the topic
        # already (another tab, another process, back inside the grace period) has not joined.
        newcomers: defaultdict[str, list[tuple[UserInfo, _TopicPresence]]] = defaultdict(list)
        for change in changes:
            if change.newcomer is not None:
                newcomers[change.connection.topic].append((change.newcomer, change.state))
        for topic, arrivals in newcomers.items():
            staying = await self.store.ausers_on_topic(topic, [user["id"] for user, _ in arrivals])
            for user, state in arrivals:
                if user["id"] not in staying:
                    state.joined[user["id"]] = user
        # Opens before closes: a connection opened and closed in one batch ends up removed.
        opened = [change.connection for change in changes if not change.closed]
        closed = [change.connection for change in changes if change.closed]
        counts = await self.store.achange(opened, closed)
        for topic, count in counts.items():
            state = self._topics.get(topic)
            if state is not None:
                state.counted = count

    async def _gone(self, topic: str, state: _TopicPresence, now: float) -> list[UserInfo]:
        """Users whose grace period is over and who have no connection to the topic left."""
        due = [uid for uid, (_, when) in state.leaving.items() if when <= now]
        if not due:
            return []
        staying = await self.store.ausers_on_topic(topic, due)
        left = []
        for uid in due:
            entry = state.leaving.get(uid)
            if entry and entry[1] <= now:  # not back, nor gone again, while we asked
                del state.leaving[uid]
                if uid not in staying:
                    left.append(entry[0])
        return left

    def _presence_data(self, joined: list[UserInfo], left: list[UserInfo]) -> dict[str, Any]:
        listed = len(joined) + len(left) <= self.max_listed_users
        return {
            "joined": joined if listed else [],
            "left": left if listed else [],
            "joined_count": len(joined),
            "left_count": len(left),
        }

    @staticmethod
    def _publish(topic: str, event_type: str, data: dict[str, Any]) -> None:
        realtime.publish.publish(topic, event_type, data, recoverable=False)

    def _ensure_heartbeat(self) -> None:
        if self._heartbeat_task is None or self._heartbeat_task.done():
            self._heartbeat_task = asyncio.create_task(self._heartbeat_forever())

    async def _heartbeat_forever(self) -> None:
        """Heartbeat every local connection in one batch, then re-read each topic's count."""
        while any(state.connections for state in self._topics.values()):
            await asyncio.sleep(self.heartbeat_interval)
            connections = [
                PresenceConnection(topic, cid, user["id"] if user else None, client)
                for topic, state in self._topics.items()
                for cid, (user, client) in state.connections.items()
            ]
            await self._safely(self.store.aheartbeat(connections), None)
            for topic in {conn.topic for conn in connections} & self._topics.keys():
                # Again: a first try may have failed (NATS down); a no-op when it took.
                await self._safely(self.store.awatch(topic, self._changed), None)
                self._changed(topic)

    @staticmethod
    async def _safely(call: Awaitable[T], fallback: T) -> T:
        """Presence must never break watching: a store outage is logged, and the next
        heartbeat repairs what it missed.
        """
        try:
            return await call
        except Exception:
            logger.exception("presence store call failed")
            return fallback


def get_tracker() -> Tracker:
    """The tracker of the running event loop (a part of its ``realtime.runtime.Runtime``: a
    process runs one loop, while tests run one loop per test), built from settings on first
    use and again after ``PRESENCE`` changes."""
    return runtime().part(Tracker, Tracker.from_settings, setting="PRESENCE")


async def connection_opened(
    *, topic: str, connection_id: str, user: dict[str, Any] | None, client: str | None = None
) -> None:
    """A viewer connected to ``topic``; ``user`` is ``{id, username, display_name}`` or None;
    ``client`` is the client's address (``PresenceConnection.viewer``)."""
    await get_tracker().connection_opened(
        topic=topic, connection_id=connection_id, user=user, client=client
    )


def viewers_counted(topic: str) -> int | None:
    """``Tracker.viewers_counted`` of the running loop's tracker: what a ``hello`` shows."""
    return get_tracker().viewers_counted(topic)


async def connection_closed(
    *, topic: str, connection_id: str, user: dict[str, Any] | None, client: str | None = None
) -> None:
    """That connection is gone."""
    await get_tracker().connection_closed(
        topic=topic, connection_id=connection_id, user=user, client=client
    )
