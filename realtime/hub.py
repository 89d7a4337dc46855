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
made it wait for the pass under way and then its own: p99 ~1.9 passes. Under load a frame
carries more events instead of the server falling behind; when the load is light each event
still goes out as soon as it arrives. A sweep begins at most once per ``FLUSH_INTERVAL``, so
events that arrive within that share a frame.

In a reconnect storm (``STORM_JOINS`` viewers or more joining the process's topics in a second
or two, and over once none has joined for ``STORM_OVER_AFTER``) the fan-out yields: after
each step the sweep waits until that step took no more than ``STORM_FANOUT_SHARE`` of the time
since it began, so the loop spends most of its time taking the viewers back (their handshakes,
their replays) and the viewers already back get fewer, fuller frames meanwhile. Measured with
10,000 viewers reconnecting at once during a 40 s drive: all back in 8.5-9.3 s with the
default share of a tenth (10.8-11.1 s at a quarter; 27-29 s without storm mode), the drive's
p99 1.2 s instead of 0.5 (docs/performance.md). Outside storms nothing changes.

``Hub`` serves the in-process store: the store hands events to it directly. ``RedisHub``
holds one Redis pub/sub subscription per topic with local connections (subscribed when the
first joins, dropped when the last leaves) and one reader task. Pub/sub is at-most-once, so
the reader watches ids: an id that skips ahead, or a reconnect to Redis, is filled in from the
history store before anything newer is handed on.

A hub belongs to one event loop (the server's). Tests run each test on a loop of its own, so
hubs are kept per loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Coroutine
from typing import Any, Protocol

import redis
from django.core.signals import setting_changed
from django.utils.module_loading import import_string
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from realtime import metrics, readiness
from realtime.conf import get_history, option
from realtime.history.base import HistoryStore, Replay
from realtime.history.redis import RedisHistory
from realtime.loops import for_loop
from realtime.protocol import RESET, Batch, Event, decode_event, make_event, now_ms

logger = logging.getLogger(__name__)


class Subscriber(Protocol):
    def push(self, batch: Batch) -> bool:
        """Take events for sending; must not block. True when they were written at once
        (one frame), False when queued or dropped."""


class _Topic:
    """One topic's subscribers and the sweep that hands its events on (see the module's
    docstring). Events get a sequence number on arrival; a subscriber's ``owed`` entry is the
    number of the first event it has not had."""

    __slots__ = ("cursor", "cycle_from", "log", "log_start", "next_at", "order", "owed", "started")

    def __init__(self, now: float) -> None:
        self.owed: dict[Subscriber, int] = {}  # also the subscribers, in the order they joined
        self.order: list[Subscriber] = []  # this cycle's visiting order (joiners at the end)
        self.cursor = 0  # the next to visit in ``order``
        self.log: list[Event] = []  # events not yet handed to every subscriber
        self.log_start = 0  # the sequence number of ``log[0]``
        self.cycle_from: int | None = None  # the end of the log when this cycle began
        self.started = now - 3600.0  # when this cycle (or the last one) began
        self.next_at = 0.0  # the sweep's next step may not start before (storm mode)

    def __len__(self) -> int:
        return len(self.owed)

    @property
    def end(self) -> int:
        return self.log_start + len(self.log)


class Hub:
    """Local fan-out for one event loop."""

    SWEEP_STEP = 500  # subscribers visited before the sweep lets the loop run other work
    STORM_OVER_AFTER = 0.25  # seconds without a join that end a storm

    def __init__(self, history: HistoryStore) -> None:
        self.history = history
        self.loop = asyncio.get_running_loop()
        self.topics: dict[str, _Topic] = {}
        self.flush_interval: float = option("FLUSH_INTERVAL")
        self.storm_joins: int = option("STORM_JOINS")
        self.storm_share: float = option("STORM_FANOUT_SHARE")
        # Joins counted per second of loop time: since ``_joins_since``, and the second before.
        self._joins = self._joins_before = 0
        self._joins_since = self._joined_at = self.loop.time()

    async def join(self, topic: str, subscriber: Subscriber) -> None:
        """Start handing the topic's events to ``subscriber``. Once this returns, every event
        the store announces later reaches it."""
        state = self.topics.get(topic)
        if state is None:
            state = self.topics[topic] = _Topic(self.loop.time())
        if subscriber not in state.owed:
            state.owed[subscriber] = state.end
            state.order.append(subscriber)
        self._count_joins()
        self._joins += 1
        self._joined_at = self.loop.time()

    def leave(self, topic: str, subscriber: Subscriber) -> None:
        """Stop handing events to ``subscriber`` (idempotent)."""
        state = self.topics.get(topic)
        if state is not None:
            state.owed.pop(subscriber, None)
            if not state.owed:
                del self.topics[topic]

    def recent_replay(self, topic: str, after: int | None) -> Replay | None:
        """What ``history.replay(topic, after)`` would answer for a subscriber that has just
        joined, from what this hub has handed on, when that covers it; None: ask history.
        (The in-process store keeps its history in memory already.)"""
        return None

    def deliver(self, topic: str, event: Event) -> None:
        """Hand an event to every local subscriber of the topic, in order: the sweep under
        way takes it to those it has not reached yet, the next sweep to the others."""
        state = self.topics.get(topic)
        if state is None:
            return
        state.log.append(event)
        if state.cycle_from is None and len(state.log) == 1:  # no sweep under way or due
            self._schedule_cycle(topic, state)

    def _schedule_cycle(self, topic: str, state: _Topic) -> None:
        """The next sweep: once storm mode allows, and a flush interval after the last began."""
        self._schedule(topic, state, max(state.next_at, state.started + self.flush_interval))

    def _schedule(self, topic: str, state: _Topic, at: float) -> None:
        if at <= self.loop.time():
            self.loop.call_soon(self._sweep, topic, state)
        else:
            self.loop.call_at(at, self._sweep, topic, state)

    def _count_joins(self) -> None:
        """Start a new second of join counting when the current one is over."""
        elapsed = self.loop.time() - self._joins_since
        if elapsed >= 1.0:
            self._joins_before = self._joins if elapsed < 2.0 else 0
            self._joins = 0
            self._joins_since += elapsed

    def _storming(self) -> bool:
        """Whether viewers are joining in a storm (see the module's docstring)."""
        self._count_joins()
        # Over as soon as the joins stop: a storm's come every few milliseconds, and the
        # viewers back after a mass connect should not wait for the count to age out.
        if self.loop.time() - self._joined_at > self.STORM_OVER_AFTER:
            return False
        return self._joins + self._joins_before >= self.storm_joins

    def _sweep(self, topic: str, state: _Topic) -> None:
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
                batch = batches[first] = Batch(log[first - log_start :])
            owed[subscriber] = end
            frames += subscriber.push(batch)
            delivered += end - first
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

    def _cycle_done(self, topic: str, state: _Topic) -> None:
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


class RedisHub(Hub):
    """Fan-out fed by Redis pub/sub: one subscription per topic, one reader task."""

    IDLE_PING = 30.0  # seconds without a message before the reader checks the connection
    JOIN_TIMEOUT = 10.0  # seconds a join waits for its subscription
    RECENT = 256  # events kept per topic to answer a joining viewer's replay from memory

    history: RedisHistory

    def __init__(self, history: HistoryStore) -> None:
        super().__init__(history)
        # Errors reach the reader, which reconnects and fills the gap itself. The name shows
        # in CLIENT LIST (one pub/sub connection per server process).
        self.client_name = f"realtime-hub-{os.getpid()}-{id(self):x}"
        self._redis = Redis.from_url(
            history.redis_url, retry=Retry(NoBackoff(), 0), client_name=self.client_name
        )
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # orders subscribe/unsubscribe/reconnect
        self._ready: dict[str, asyncio.Future[None]] = {}  # subscribed topics
        self._last_seen: dict[str, int] = {}  # newest id handed on, per topic
        self._recent: dict[str, deque[Event]] = {}  # the newest handed on, per topic, in order
        self._tasks: set[asyncio.Task[Any]] = set()
        # The Redis server's run_id: a new one means Redis restarted, and without persistence
        # it lost every topic's ids and history (``_lost`` holds the topics still to reset).
        self._run_id: str | None = None
        self._lost: set[str] = set()

    async def join(self, topic: str, subscriber: Subscriber) -> None:
        await super().join(topic, subscriber)
        async with self._lock:
            ready = self._ready.get(topic)
            if ready is None:
                ready = self._ready[topic] = self.loop.create_future()
                if self._pubsub is None:
                    self._start_reader()
                else:
                    await self._subscribe(topic)
        # Redis down: fail (the client retries) rather than hang without a hello.
        await asyncio.wait_for(asyncio.shield(ready), self.JOIN_TIMEOUT)

    def leave(self, topic: str, subscriber: Subscriber) -> None:
        super().leave(topic, subscriber)
        if topic not in self.topics:
            self._spawn(self._release(topic))

    async def _release(self, topic: str) -> None:
        async with self._lock:
            if topic in self.topics or topic not in self._ready:
                return  # someone joined again meanwhile
            self._ready.pop(topic).cancel()
            self._last_seen.pop(topic, None)
            self._recent.pop(topic, None)
            if not self._ready:
                await self._stop_reader()
            elif self._pubsub is not None:
                # On failure the reader reconnects, with only the topics still wanted.
                with contextlib.suppress(redis.RedisError, OSError):
                    await self._pubsub.unsubscribe(self.history.channel(topic))

    async def _subscribe(self, topic: str) -> None:
        # On failure the reader reconnects and subscribes to every wanted topic.
        with contextlib.suppress(redis.RedisError, OSError):
            await self._pubsub.subscribe(self.history.channel(topic))  # type: ignore[union-attr]

    def _start_reader(self) -> None:
        self._pubsub = self._redis.pubsub()
        self._reader = self.loop.create_task(self._read_forever())

    async def _stop_reader(self) -> None:
        reader, pubsub = self._reader, self._pubsub
        self._reader = self._pubsub = None
        readiness.recovered("pubsub")  # no reader, so none waiting to reconnect
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        if pubsub is not None:
            await pubsub.aclose()

    async def _read_forever(self) -> None:
        delay = 0.1
        while True:
            pubsub = self._pubsub
            assert pubsub is not None
            try:
                async with self._lock:
                    await self._note_restart()
                    if self._ready:
                        await pubsub.subscribe(*(self.history.channel(t) for t in self._ready))
                readiness.recovered("pubsub")
                await self._read(pubsub)
            except (redis.RedisError, OSError) as exc:
                readiness.failing("pubsub")
                metrics.REDIS_ERRORS.labels("subscribe").inc()
                logger.warning("realtime: Redis pub/sub connection lost (%s); reconnecting", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                async with self._lock:
                    if self._pubsub is not pubsub:
                        return  # stopped meanwhile
                    await pubsub.aclose()
                    self._pubsub = self._redis.pubsub()
            else:
                delay = 0.1

    async def _note_restart(self) -> None:
        """After a reconnect, find out whether Redis itself restarted (and so may have lost
        the topics' ids): those topics are reset rather than filled from history."""
        run_id = (await self._redis.info("server"))["run_id"]
        if self._run_id is not None and run_id != self._run_id:
            logger.warning("realtime: Redis restarted; resetting %d topics", len(self._last_seen))
            self._lost = set(self._last_seen)
        self._run_id = run_id

    async def _read(self, pubsub: PubSub) -> None:
        idle = False
        while True:
            message = await pubsub.get_message(timeout=self.IDLE_PING)
            if message is None:
                if idle:
                    raise redis.ConnectionError("no answer to PING")
                idle = True
                await pubsub.ping()
                continue
            idle = False
            try:
                await self._handle(message)
            except (redis.RedisError, OSError):
                raise  # reconnect: re-subscribing runs every step again
            except Exception:
                logger.exception("realtime: could not hand on %r", message)

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind not in ("message", "subscribe"):
            return
        topic = self.history.topic_of(message["channel"])
        if topic not in self._ready:
            return  # left meanwhile
        if kind == "subscribe":
            await self._subscribed(topic)
        else:
            await self._received(topic, decode_event(message["data"]))

    async def _subscribed(self, topic: str) -> None:
        """The subscription is live: note where the topic stands, or fill in what was
        published while it was not (after a reconnect)."""
        seen = self._last_seen.get(topic)
        if seen is None:
            self._advance(topic, (await self.history.replay(topic, None)).last_id)
        elif topic in self._lost:
            # Its history is gone (new ids start from the clock, above ``seen``): nothing
            # published before the restart can be filled in.
            self._reset(topic, (await self.history.replay(topic, None)).last_id)
            self._lost.discard(topic)
        else:
            await self._fill(topic, seen, before=None)
        ready = self._ready.get(topic)
        if ready is not None and not ready.done():
            ready.set_result(None)

    async def _received(self, topic: str, event: Event) -> None:
        if event.id is None:
            self.deliver(topic, event)
            return
        seen = self._last_seen.get(topic, 0)
        if event.id <= seen:
            return  # already handed on by a fill
        if event.id > seen + 1:
            await self._fill(topic, seen, before=event.id)
        self._hand_on(topic, event)

    async def _fill(self, topic: str, seen: int, *, before: int | None) -> None:
        """Hand on the events after ``seen`` (and before ``before``) from history; when
        history no longer has them, tell the topic's clients to refetch."""
        replay = await self.history.replay(topic, seen)
        if replay.reset:
            last = replay.last_id if before is None else before - 1
            logger.warning("realtime: %s lost events %s..%s", topic, seen + 1, last)
            self._reset(topic, last)
            return
        for event in replay.events:
            if before is not None and event.id >= before:  # type: ignore[operator]
                break
            self._hand_on(topic, event)

    def _reset(self, topic: str, last: int) -> None:
        """Tell the topic's clients to refetch; the topic continues after ``last``."""
        if topic in self._ready:
            # Not max(): after Redis lost its data ``last`` is 0 until the topic's new counter
            # gives out its first id, and the topic goes on from there.
            self._last_seen[topic] = last
        self._recent.pop(topic, None)
        self.deliver(topic, make_event(RESET, {"last_event_id": last}))

    def _hand_on(self, topic: str, event: Event) -> None:
        """Hand on the topic's next event (its id follows the last one handed on)."""
        self._advance(topic, event.id)  # type: ignore[arg-type]
        if topic in self._ready:
            recent = self._recent.get(topic)
            if recent is None:
                # No more than history keeps: a resume it would refuse is refused here too.
                recent = self._recent[topic] = deque(maxlen=min(self.RECENT, self.history.size))
            recent.append(event)
        self.deliver(topic, event)

    def recent_replay(self, topic: str, after: int | None) -> Replay | None:
        # Every event up to ``_last_seen`` has been handed on (so a viewer that joined since
        # gets nothing older from the hub), and every later one will be: the replay is the
        # retained events after ``after`` up to it, with no read of Redis. A reconnect storm's
        # viewers resume from a recent id; a history read per resume point was ~8% of a
        # connect's CPU.
        ready, last = self._ready.get(topic), self._last_seen.get(topic)
        if ready is None or not ready.done() or last is None or topic in self._lost:
            return None
        if after is None or after == last:
            return Replay(last)
        recent = self._recent.get(topic)
        if after > last or not recent or recent[0].id > after + 1:  # type: ignore[operator]
            return None  # ahead of this process, or older than what it keeps
        return Replay(last, [event for event in recent if event.id > after])  # type: ignore[operator]

    def _advance(self, topic: str, event_id: int) -> None:
        """Note the newest id handed on, unless the topic was let go while we waited."""
        if topic in self._ready:
            self._last_seen[topic] = max(event_id, self._last_seen.get(topic, 0))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def get_hub() -> Hub:
    """The hub of the running event loop."""
    return for_loop(_hubs, asyncio.get_running_loop(), _new_hub)


def _new_hub() -> Hub:
    history = get_history()
    return import_string(history.hub_class)(history)


def deliver_local(topic: str, event: Event) -> None:
    """Hand an event to this process's hubs, from any thread, in call order."""
    for loop, hub in list(_hubs.items()):
        if topic in hub.topics:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(hub.deliver, topic, event)


def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == "REALTIME":
        _hubs.clear()


setting_changed.connect(_reset)
