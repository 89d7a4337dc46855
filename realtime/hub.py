"""The per-process fan-out table: topic -> the connections of this process watching it.

An event reaches a process once, is decoded once, and the hub hands the same ``Event`` (and
its encoded string) to every local connection on the topic; each connection writes it at once
or queues it. Nothing here is per viewer in Redis, and nothing goes through Channels'
``dispatch``.

Events are handed on by a sweep: a walk over the topic's subscribers that gives each, as one
frame, every event it has not had yet. A write to a socket (a system call per connection per
frame) is most of what a delivery costs, so a sweep over a big audience takes a while, and it
lets the loop run between steps of ``SWEEP_STEP`` subscribers: an event that arrives meanwhile
joins the frames of everyone the sweep has not reached yet, and those it passed get it from the
next sweep, which starts where this one began. So an event waits at most one sweep, where
handing it on in passes (every subscriber gets the events that arrived before the pass began)
made it wait for the pass under way and then its own. Under load a frame
carries more events instead of the server falling behind; when the load is light each event
still goes out as soon as it arrives. A sweep begins at most once per ``FLUSH_INTERVAL``, so
events that arrive within that share a frame.

In a reconnect storm (``STORM_JOINS`` viewers or more joining the process's topics in a second
or two; it goes on while they keep joining at ``STORM_GOES_ON`` of that rate, and is over once
they join more slowly or none has joined for ``STORM_OVER_AFTER``; after a mass drop, until
those who left are back, see ``Hub.STORM_DROP_SHARE``) the fan-out yields: after
each step the sweep waits until that step took no more than ``STORM_FANOUT_SHARE`` of the time
since it began, so the loop spends most of its time taking the viewers back (their handshakes,
their replays) and the viewers already back get fewer, fuller frames meanwhile (what that
buys: docs/performance.md). Outside storms nothing changes.

Snapshots (events without an id) are handed on as they come, latest wins, except those of a
type in ``snapshot_order``, whose data carries a number that never decreases (reaction totals
only grow): one below the last handed on for the topic was read before it and is dropped. It
comes later because another process or region announced it (docs/scale-out.md, "Snapshots
that only grow"). Of a type in ``latest_wins`` (absolute figures), a subscriber owed several
gets the newest only: one that fell behind (a storm's sweeps, a slow sweep) is not sent the
figures it missed one by one.

A hub is one half of a backend (``realtime.backends``): the history store decides ids and
announces events, and its hub hands them to this process's connections. ``Hub`` is fed
directly by the store (the in-process backend); a backend that announces through a server
subclasses it (``realtime.backends.pubsub.PubSubHub``, for Redis). A hub belongs to one event
loop, and the loop's ``realtime.runtime.Runtime`` holds it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Protocol

from realtime import metrics
from realtime.protocol import Batch, Event, now_ms

if TYPE_CHECKING:
    from realtime.backends.base import Replay


class Subscriber(Protocol):
    def push(self, batch: Batch) -> bool:
        """Take events for sending; must not block. True when they were written at once
        (one frame), False when queued or dropped."""


class _TopicFanout:
    """One topic's subscribers and the sweep that hands its events on (see the module's
    docstring). Events get a sequence number on arrival; a subscriber's ``owed`` entry is the
    number of the first event it has not had."""

    __slots__ = (
        "cursor", "cycle_from", "log", "log_start", "newest", "next_at", "order", "owed", "started",
    )  # fmt: skip

    def __init__(self, now: float) -> None:
        self.owed: dict[Subscriber, int] = {}  # also the subscribers, in the order they joined
        self.order: list[Subscriber] = []  # this cycle's visiting order (joiners at the end)
        self.cursor = 0  # the next to visit in ``order``
        self.log: list[Event] = []  # events not yet handed to every subscriber
        self.log_start = 0  # the sequence number of ``log[0]``
        self.cycle_from: int | None = None  # the end of the log when this cycle began
        self.started = now - 3600.0  # when this cycle (or the last one) began
        self.next_at = 0.0  # the sweep's next step may not start before (storm mode)
        self.newest: dict[str, float] = {}  # per ordered snapshot type, the highest handed on

    def __len__(self) -> int:
        return len(self.owed)

    @property
    def end(self) -> int:
        return self.log_start + len(self.log)


class Hub:
    """Local fan-out for one event loop."""

    # Subscribers visited before the sweep lets the loop run other work: a step is a wait for
    # everything else the loop does (a REST write's answer waits for two or three).
    SWEEP_STEP = 200
    STORM_OVER_AFTER = 0.25  # seconds without a join that end a storm
    # A storm goes on while the joins keep coming at this share of the rate that started it.
    # Without it, a storm whose joins slowed below that rate (the machine busy) handed the
    # loop back to the fan-out to those already back, and the joins slowed further: in the
    # 50,000-viewer storm they all but stopped until the events did (performance-rounds.md).
    STORM_GOES_ON = 0.1
    # A mass drop (more than this share of the process's subscribers, and a storm's worth,
    # leaving within a second or two) keeps storm mode on until as many have joined again,
    # at whatever rate, while they keep coming at least as fast as a storm goes on
    # (STORM_GOES_ON), once STORM_DROP_QUIET has passed since the drop; not after nobody
    # joins or leaves for STORM_DROP_QUIET, nor past STORM_DROP_HOLD. When the machine is
    # full, a drop's last joins come in bursts with gaps over STORM_OVER_AFTER, and a storm
    # that ended in one of those gave the loop back to the fan-out to those already back
    # (performance-rounds.md, round 10). An audience that leaves for good (a broadcast over)
    # while others trickle in holds nothing past the grace. A mass connect has no drop
    # before it: its storm ends with the quiet, as before.
    STORM_DROP_SHARE = 0.5
    STORM_DROP_QUIET = 2.0
    STORM_DROP_HOLD = 60.0

    def __init__(
        self,
        *,
        flush_interval: float,
        storm_joins: int,
        storm_share: float,
        snapshot_order: Mapping[str, str] | None = None,
        latest_wins: Collection[str] = (),
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.topics: dict[str, _TopicFanout] = {}
        self.flush_interval = flush_interval
        self.storm_joins = storm_joins
        self.storm_share = storm_share
        self.snapshot_order = dict(snapshot_order or {})  # type -> the data field that orders
        self.latest_wins = frozenset(latest_wins)
        now = self.loop.time()
        self._joins, self._leaves = _PerSecond(now), _PerSecond(now)
        self._joined_at = self._stirred_at = now  # the last join; the last join or leave
        self._storm = False  # started by a join, over at a look (``_storming``)
        self._subscribers = 0  # subscribers of all topics (one per topic it watches)
        self._drop_owed = 0  # the joins a mass drop still waits for
        self._drop_since = now  # when the mass drop under way began
        self._drop_until = now  # the end of a mass drop's hold (its cap)

    async def join(self, topic: str, subscriber: Subscriber) -> None:
        """Start handing the topic's events to ``subscriber``. Once this returns, every event
        the store announces later reaches it."""
        state = self.topics.get(topic)
        if state is None:
            state = self.topics[topic] = _TopicFanout(self.loop.time())
        if subscriber not in state.owed:
            state.owed[subscriber] = state.end
            state.order.append(subscriber)
            self._joined()

    def leave(self, topic: str, subscriber: Subscriber) -> None:
        """Stop handing events to ``subscriber`` (idempotent)."""
        state = self.topics.get(topic)
        if state is not None and state.owed.pop(subscriber, None) is not None:
            self._left()
            if not state.owed:
                del self.topics[topic]

    def recent_replay(self, topic: str, after: int | None) -> Replay | None:
        """What the store's ``replay(topic, after)`` would answer for a subscriber that has just
        joined, from what this hub has handed on, when that covers it; None: ask the store.
        (The in-process store keeps its history in memory already.)"""
        return None

    def deliver(self, topic: str, event: Event) -> None:
        """Hand an event to every local subscriber of the topic, in order: the sweep under
        way takes it to those it has not reached yet, the next sweep to the others."""
        state = self.topics.get(topic)
        if state is None:
            return
        field = self.snapshot_order.get(event.type) if event.id is None else None
        if field is not None and _outdated(state, event, field):
            return  # read before a snapshot handed on already (see the module's docstring)
        state.log.append(event)
        if state.cycle_from is None and len(state.log) == 1:  # no sweep under way or due
            self._schedule_cycle(topic, state)

    def _schedule_cycle(self, topic: str, state: _TopicFanout) -> None:
        """The next sweep: once storm mode allows, and a flush interval after the last began."""
        self._schedule(topic, state, max(state.next_at, state.started + self.flush_interval))

    def _schedule(self, topic: str, state: _TopicFanout, at: float) -> None:
        if at <= self.loop.time():
            self.loop.call_soon(self._sweep, topic, state)
        else:
            self.loop.call_at(at, self._sweep, topic, state)

    def _joined(self) -> None:
        """Count a join: it may start a storm, or end one that went quiet."""
        now = self.loop.time()
        if now - self._joined_at > self.STORM_OVER_AFTER:
            self._storm = False  # over with the quiet, whether or not a sweep looked meanwhile
        self._joined_at = self._stirred_at = now
        self._subscribers += 1
        self._drop_owed -= 1
        if self._joins.add(now) >= self.storm_joins:
            self._storm = True

    def _left(self) -> None:
        """Count a leave: it may make a mass drop, or add to one."""
        now = self.loop.time()
        dropped = self._dropped(now)
        self._stirred_at = now
        self._subscribers -= 1
        left = self._leaves.add(now)
        if dropped:
            self._drop_owed += 1
        elif left >= self.storm_joins and left > self.STORM_DROP_SHARE * (self._subscribers + left):
            self._drop_owed, self._drop_since = left, now
            self._drop_until = now + self.STORM_DROP_HOLD

    def _dropped(self, now: float) -> bool:
        """Whether a mass drop's viewers are still coming back (``Hub.STORM_DROP_SHARE``)."""
        slow = now - self._drop_since > self.STORM_DROP_QUIET and self._joining_slowly(now)
        if self._drop_owed <= 0 or slow or now - self._stirred_at > self.STORM_DROP_QUIET:
            self._drop_until = min(self._drop_until, now)  # over; later leaves do not revive it
        return now < self._drop_until

    def _storming(self) -> bool:
        """Whether viewers are joining in a storm (see the module's docstring)."""
        now = self.loop.time()
        if self._dropped(now):
            return True
        # Over as soon as the joins stop: a storm's come every few milliseconds, and the
        # viewers back after a mass connect should not wait for the count to age out.
        quiet = now - self._joined_at > self.STORM_OVER_AFTER
        if quiet or self._joining_slowly(now):
            self._storm = False
        return self._storm

    def _joining_slowly(self, now: float) -> bool:
        """Whether the joins of the last second or two came slower than a storm goes on."""
        return self._joins.recent(now) < self.storm_joins * self.STORM_GOES_ON

    def _sweep(self, topic: str, state: _TopicFanout) -> None:
        """One step of a sweep: the next ``SWEEP_STEP`` subscribers get what they are owed,
        each as one frame."""
        if self.topics.get(topic) is not state:
            return  # everyone left meanwhile
        started = time.monotonic()  # uvloop's loop.time() stands still within a callback
        if state.cycle_from is None:
            state.cycle_from, state.started, state.cursor = state.end, self.loop.time(), 0
            state.order = list(state.owed)
        end, log_start, log, owed = state.end, state.log_start, state.log, state.owed
        batches: dict[int, Batch] = {}  # by the first event owed: built once, shared
        order, stop = state.order, min(len(state.order), state.cursor + self.SWEEP_STEP)
        frames = delivered = 0
        for subscriber in order[state.cursor : stop]:
            first = owed.get(subscriber)
            if first is None or first >= end:
                continue  # it left, or has everything
            batch = batches.get(first)
            if batch is None:
                batch = batches[first] = Batch(self._newest_only(log[first - log_start :]))
            owed[subscriber] = end
            frames += subscriber.push(batch)
            delivered += len(batch.events)
        state.cursor = stop
        metrics.FRAMES_SENT.inc(frames)
        metrics.EVENTS_DELIVERED.inc(delivered)
        took = time.monotonic() - started
        state.next_at = self.loop.time()
        if self._storming():  # let the joins have the rest of the loop
            state.next_at += took / self.storm_share - took
        if stop < len(order):
            self._schedule(topic, state, state.next_at)
        else:
            self._cycle_done(topic, state)

    def _newest_only(self, events: list[Event]) -> list[Event]:
        """``events`` without the ``latest_wins`` snapshots that a later one of their type
        replaces."""
        if len(events) < 2 or not self.latest_wins:
            return events
        kept: list[Event] = []
        seen: set[str] = set()
        for event in reversed(events):
            if event.id is None and event.type in self.latest_wins:
                if event.type in seen:
                    continue
                seen.add(event.type)
            kept.append(event)
        kept.reverse()
        return kept

    def _cycle_done(self, topic: str, state: _TopicFanout) -> None:
        """Everyone has what arrived before the cycle began; what arrived since is owed to
        those visited before it arrived: another cycle takes it to them."""
        done = state.cycle_from - state.log_start  # type: ignore[operator]
        now = now_ms()
        for event in state.log[:done]:
            metrics.DELIVERY_LATENCY.observe(max(0.0, now - event.ts) / 1000)
        del state.log[:done]
        state.log_start += done
        state.cycle_from = None
        if state.log:
            self._schedule_cycle(topic, state)


class _PerSecond:
    """Things counted per second of loop time: in the second under way and the one before."""

    __slots__ = ("before", "count", "since")

    def __init__(self, now: float) -> None:
        self.count = self.before = 0
        self.since = now  # when the second under way began

    def recent(self, now: float) -> int:
        """How many in the second under way and the one before."""
        elapsed = now - self.since
        if elapsed >= 1.0:
            self.before = self.count if elapsed < 2.0 else 0
            self.count = 0
            self.since += elapsed
        return self.count + self.before

    def add(self, now: float) -> int:
        """Count one; how many now."""
        recent = self.recent(now)
        self.count += 1
        return recent + 1


def _outdated(state: _TopicFanout, snapshot: Event, field: str) -> bool:
    """Whether ``snapshot``'s ``field`` is below that of one of its type already handed on for
    the topic (when not, it becomes the one to beat)."""
    value = snapshot.data.get(field)
    if not isinstance(value, int | float):
        return False  # not ordered: handed on, as any snapshot
    if value < state.newest.get(snapshot.type, value):
        return True
    state.newest[snapshot.type] = value
    return False
