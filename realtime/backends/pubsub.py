"""A hub fed by Redis pub/sub, shared by the Redis backends (``realtime.backends.redis`` and
``realtime.backends.redis_cluster``).

``PubSubHub`` holds the per-topic logic: one subscription per topic with local connections
(subscribed when the first joins, dropped when the last leaves). Pub/sub is at-most-once, so
it watches ids: an id that skips ahead, or a reconnect, is filled in from the history store
before anything newer is handed on; a topic whose ids the server may have lost (it restarted,
or another node took over its slot) is reset instead.

A ``Feed`` is one pub/sub connection to one Redis server and the task that reads it: it
carries some of the hub's topics, reconnects with a backoff, pings when idle, and reports to
its hub. A single Redis needs one feed; a cluster one per master node that serves this
process's topics. Nothing runs per topic, and nothing at all while no topic is watched.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import redis
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from realtime import metrics, readiness
from realtime.backends.base import Replay
from realtime.hub import Hub, Subscriber
from realtime.protocol import RESET, Event, decode_event, make_event

if TYPE_CHECKING:
    from realtime.backends.redis import RedisHistory

logger = logging.getLogger(__name__)

CANCEL_RETRY = 0.5  # seconds before a cancellation that did not end the task is asked again


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it has ended. redis-py's asyncio clients can swallow a
    cancellation that lands inside a command (redis/redis-py#2028, #2551; seen after a cluster
    failover), so the request is made again until the task is done."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_RETRY)
    if not task.cancelled() and task.exception() is not None:
        logger.warning("realtime: pub/sub reader ended with %r", task.exception())


class Feed:
    """One pub/sub connection to one Redis server, carrying some of a hub's topics (``SUBSCRIBE``,
    or ``SSUBSCRIBE`` when ``sharded``), read by one task while it carries any."""

    IDLE_PING = 30.0  # seconds without a message before the reader checks the connection

    def __init__(self, hub: PubSubHub, client: Redis, *, sharded: bool = False) -> None:
        self.hub = hub
        self.client = client
        self.sharded = sharded
        self.topics: set[str] = set()
        self.pubsub: PubSub | None = None
        self.reader: asyncio.Task[None] | None = None
        # The server's run_id: a new one means it restarted, and without persistence it lost
        # the ids and history of every topic it served.
        self.run_id: str | None = None

    async def add(self, topic: str) -> None:
        """Carry ``topic`` too (under the hub's lock)."""
        self.topics.add(topic)
        if self.pubsub is None:
            self.pubsub = self.client.pubsub()
            self.reader = self.hub.loop.create_task(self._read_forever())  # subscribes all
        else:
            # On failure the reader reconnects and subscribes to every topic carried.
            with contextlib.suppress(redis.RedisError, OSError):
                await self._subscribe(self.hub.history.channel(topic))

    async def remove(self, topic: str) -> None:
        """Stop carrying ``topic`` (under the hub's lock); the last one stops the reader."""
        self.topics.discard(topic)
        if not self.topics:
            await self.stop()
        elif self.pubsub is not None:
            # On failure the reader reconnects, with only the topics still carried.
            with contextlib.suppress(redis.RedisError, OSError):
                channel = self.hub.history.channel(topic)
                if self.sharded:
                    await self.pubsub.sunsubscribe(channel)
                else:
                    await self.pubsub.unsubscribe(channel)

    async def stop(self) -> None:
        reader, pubsub = self.reader, self.pubsub
        self.reader = self.pubsub = None
        readiness.recovered("pubsub")  # no reader, so none waiting to reconnect
        if reader is not None and reader is not asyncio.current_task():
            await cancel_and_wait(reader)
        if pubsub is not None:
            await pubsub.aclose()

    async def _subscribe(self, *channels: str) -> None:
        assert self.pubsub is not None
        if self.sharded:
            await self.pubsub.ssubscribe(*channels)
        else:
            await self.pubsub.subscribe(*channels)

    async def _read_forever(self) -> None:
        delay = 0.1
        while True:
            pubsub = self.pubsub
            assert pubsub is not None
            try:
                async with self.hub.lock:
                    await self._note_restart()
                    if self.topics:
                        await self._subscribe(*(self.hub.history.channel(t) for t in self.topics))
                readiness.recovered("pubsub")
                await self._read(pubsub)
            except (redis.RedisError, OSError) as exc:
                readiness.failing("pubsub")
                metrics.REDIS_ERRORS.labels("subscribe").inc()
                logger.warning("realtime: Redis pub/sub connection lost (%s); reconnecting", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                async with self.hub.lock:
                    if self.pubsub is not pubsub:
                        return  # stopped meanwhile
                    await pubsub.aclose()
                    self.pubsub = self.client.pubsub()
                    await self.hub.reconnecting(self)  # may take topics elsewhere
                    if not self.topics:
                        await self.stop()
                        return
            else:
                delay = 0.1

    async def _note_restart(self) -> None:
        """After a reconnect, find out whether the server itself restarted (and so may have
        lost the topics' ids): those topics are reset rather than filled from history."""
        run_id = (await self.client.info("server"))["run_id"]
        if self.run_id is not None and run_id != self.run_id:
            logger.warning("realtime: Redis restarted; resetting %d topics", len(self.topics))
            self.hub.lose(self.topics)
        self.run_id = run_id

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
                await self.hub.handle(message)
            except (redis.RedisError, OSError):
                raise  # reconnect: re-subscribing runs every step again
            except Exception:
                logger.exception("realtime: could not hand on %r", message)


class PubSubHub(Hub):
    """Fan-out fed by Redis pub/sub: one subscription per topic, carried by a ``Feed``.
    Subclasses say which feed carries a topic."""

    JOIN_TIMEOUT = 10.0  # seconds a join waits for its subscription
    RECENT = 256  # events kept per topic to answer a joining viewer's replay from memory

    def __init__(self, history: RedisHistory, **options: Any) -> None:
        super().__init__(**options)
        self.history = history
        self.lock = asyncio.Lock()  # orders subscribe/unsubscribe/reconnect, over every feed
        self._ready: dict[str, asyncio.Future[None]] = {}  # subscribed topics
        self._last_seen: dict[str, int] = {}  # newest id handed on, per topic
        self._recent: dict[str, deque[Event]] = {}  # the newest handed on, per topic, in order
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lost: set[str] = set()  # topics whose ids the server may have lost: to reset

    # Subclasses of PubSubHub must provide the following methods.

    async def feed_for(self, topic: str) -> Feed:
        """The feed to carry ``topic`` (under the lock)."""
        raise NotImplementedError("subclasses of PubSubHub must provide a feed_for() method")

    async def unfeed(self, topic: str) -> None:
        """Stop carrying ``topic`` (under the lock)."""
        raise NotImplementedError("subclasses of PubSubHub must provide an unfeed() method")

    async def reconnecting(self, feed: Feed) -> None:
        """``feed`` lost its connection and is about to reconnect (under the lock)."""

    @property
    def connections(self) -> int:
        """The pub/sub connections this hub holds open (one per feed with a reader)."""
        raise NotImplementedError("subclasses of PubSubHub must provide connections")

    # The per-topic logic.

    async def join(self, topic: str, subscriber: Subscriber) -> None:
        await super().join(topic, subscriber)
        async with self.lock:
            ready = self._ready.get(topic)
            if ready is None:
                ready = self._ready[topic] = self.loop.create_future()
                await (await self.feed_for(topic)).add(topic)
        if not ready.done():  # (wait_for would still wait a turn of the loop, and a timer)
            # Redis down: fail (the client retries) rather than hang without a hello.
            await asyncio.wait_for(asyncio.shield(ready), self.JOIN_TIMEOUT)

    def leave(self, topic: str, subscriber: Subscriber) -> None:
        super().leave(topic, subscriber)
        if topic not in self.topics:
            self._spawn(self._release(topic))

    async def _release(self, topic: str) -> None:
        async with self.lock:
            if topic in self.topics or topic not in self._ready:
                return  # someone joined again meanwhile
            self._ready.pop(topic).cancel()
            self._last_seen.pop(topic, None)
            self._recent.pop(topic, None)
            self._lost.discard(topic)
            await self.unfeed(topic)

    def lose(self, topics: set[str]) -> None:
        """The server that served ``topics`` may have lost their ids: once subscribed again,
        their clients are reset rather than filled in from history."""
        self._lost |= topics & self._last_seen.keys()

    async def handle(self, message: dict[str, Any]) -> None:
        """A message read from a feed."""
        kind = message["type"]
        if kind not in ("message", "smessage", "subscribe", "ssubscribe", "sunsubscribe"):
            return
        topic = self.history.topic_of(message["channel"])
        if topic not in self._ready:
            return  # left meanwhile
        if kind == "sunsubscribe":
            # Not asked for: the node no longer serves the topic's slot (moved to another
            # master). Reconnecting finds where it went.
            raise redis.ConnectionError(f"the server dropped {topic!r}: its slot moved")
        if kind.endswith("subscribe"):
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
            # published before the loss can be filled in.
            self._reset(topic, (await self.history.replay(topic, None)).last_id)
            self._lost.discard(topic)
        else:
            await self._fill(topic, seen, before=None)
        ready = self._ready.get(topic)
        if ready is not None and not ready.done():
            ready.set_result(None)

    async def _received(self, topic: str, event: Event) -> None:
        if event.id is None:
            if event.type == RESET:
                self._store_reset(topic, event.data["last_event_id"])
            else:
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

    def _store_reset(self, topic: str, last: int) -> None:
        """The store says the topic's ids go on after ``last`` and those before may not reach
        this hub (another region's lineage took over: ``realtime.backends.regioncopy``):
        unless it is there already, the topic's clients refetch."""
        if last > self._last_seen.get(topic, 0):
            logger.warning("realtime: %s goes on after %s; its clients refetch", topic, last)
            self._reset(topic, last)

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
        # viewers resume from a recent id; a history read per resume point was a measurable
        # share of a connect's CPU (docs/performance.md).
        ready, last = self._ready.get(topic), self._last_seen.get(topic)
        if ready is None or not ready.done() or last is None or topic in self._lost:
            return None
        if after is None or after == last:
            return Replay(last)
        recent = self._recent.get(topic)
        if after > last or not recent or recent[0].id > after + 1:  # type: ignore[operator]
            return None  # ahead of this process, or older than what it keeps
        first = recent[0].id
        if recent[-1].id - first != len(recent) - 1:  # type: ignore[operator]
            return None  # ids that do not follow each other (they do between resets): ask
        # What comes after ``after`` is the tail, taken without comparing every event kept.
        return Replay(last, list(itertools.islice(recent, after + 1 - first, None)))  # type: ignore[operator]

    def _advance(self, topic: str, event_id: int) -> None:
        """Note the newest id handed on, unless the topic was let go while we waited."""
        if topic in self._ready:
            self._last_seen[topic] = max(event_id, self._last_seen.get(topic, 0))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
