"""The Redis backend: history in Redis, shared by every process of a deployment, and a hub
fed by Redis pub/sub.

Per topic: a counter (``rt:{topic}:seq``), the value it started from (``rt:{topic}:start``)
and a sorted set of encoded events scored by id (``rt:{topic}:log``), where ``rt`` is
``REALTIME["KEY_PREFIX"]``. One Lua script numbers, retains, trims and PUBLISHes an event to
the topic's channel (``rt:<db>:{topic}``, ``<db>`` the database number: keys belong to a
database, but pub/sub channels to the whole Redis server, so without it two deployments on two
databases of one Redis would hear each other's events); Redis runs scripts one at a time, so
every process receives a topic's events in id order. Keys expire ``ttl`` seconds after the
topic's last event. A counter that is missing (a new topic, expired keys, a Redis restarted
empty) starts again from ``counter_start()``, the clock, so ids never go back.

``RedisHub`` holds one Redis pub/sub subscription per topic with local connections (subscribed
when the first joins, dropped when the last leaves) and one reader task. Pub/sub is
at-most-once, so the reader watches ids: an id that skips ahead, or a reconnect to Redis, is
filled in from the history store before anything newer is handed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Coroutine
from typing import Any

import redis
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.connection import parse_url

from realtime import metrics, readiness
from realtime.backends.base import HistoryStore, Replay, counter_start
from realtime.clients import redis_client
from realtime.hub import Hub, Subscriber
from realtime.protocol import RESET, Event, decode_event, encoded_parts, make_event

logger = logging.getLogger(__name__)

APPEND = AsyncScript(
    None,  # type: ignore[arg-type]
    b"""
if redis.call('SET', KEYS[1], ARGV[6], 'NX') then
  redis.call('SET', KEYS[3], ARGV[6])
end
local id = redis.call('INCR', KEYS[1])
-- %d: Lua would write a number this large as 1.7957733328767e+15.
local event = ARGV[1] .. string.format('%d', id) .. ARGV[2]
redis.call('ZADD', KEYS[2], id, event)
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[3]) + 1))
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
  redis.call('EXPIRE', KEYS[3], ttl)
end
redis.call('PUBLISH', ARGV[5], event)
return id
""",
)

REPLAY = AsyncScript(
    None,  # type: ignore[arg-type]
    b"""
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local events = {}
if ARGV[1] ~= '' then
  events = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf')
end
return {last, first[2] or '', redis.call('GET', KEYS[3]) or '', events}
""",
)


class RedisHistory(HistoryStore):
    def __init__(self, *, size: int, ttl: int = 0, redis_url: str = "", key_prefix: str = "rt"):
        if not redis_url:
            raise ValueError("RedisHistory needs REALTIME['REDIS_URL']")
        super().__init__(size=size, ttl=ttl, redis_url=redis_url, key_prefix=key_prefix)
        self._channel_prefix = f"{key_prefix}:{parse_url(redis_url).get('db', 0)}:"

    def make_hub(self, **options: Any) -> RedisHub:
        return RedisHub(self, **options)

    def channel(self, topic: str) -> str:
        """The pub/sub channel that carries a topic's events."""
        # The braces keep a topic's keys in one hash slot, should this run on a cluster.
        return f"{self._channel_prefix}{{{topic}}}"

    def topic_of(self, channel: bytes) -> str:
        """The topic a channel carries (``channel``'s inverse)."""
        return channel.decode()[len(self._channel_prefix) + 1 : -1]

    def key(self, topic: str, part: str) -> str:
        """The Redis key of a topic's ``seq``, ``log`` or ``start``."""
        return f"{self.key_prefix}:{{{topic}}}:{part}"

    def _keys(self, topic: str) -> list[str]:
        return [self.key(topic, part) for part in ("seq", "log", "start")]

    async def append(
        self, topic: str, event_type: str, data: dict[str, Any], *, ts: float, data_json: str
    ) -> Event:
        prefix, suffix = encoded_parts(event_type, ts, data_json)
        event_id = await APPEND(
            keys=self._keys(topic),
            args=[prefix, suffix, self.size, self.ttl, self.channel(topic), counter_start()],
            client=redis_client(self.redis_url),
        )
        return Event(event_type, int(event_id), ts, data, f"{prefix}{event_id}{suffix}")

    async def announce(self, topic: str, event: Event) -> None:
        await redis_client(self.redis_url).publish(self.channel(topic), event.encoded)

    async def replay(self, topic: str, after: int | None) -> Replay:
        last_id, first_id, start, encoded = await REPLAY(
            keys=self._keys(topic),
            args=["" if after is None else after],
            client=redis_client(self.redis_url),
        )
        return self.replay_from(
            after,
            retained=[decode_event(e) for e in encoded],
            first_id=int(first_id) if first_id else None,
            last_id=int(last_id),
            start=int(start) if start else None,
        )

    async def clear(self, topic: str) -> None:
        await redis_client(self.redis_url).delete(*self._keys(topic))


class RedisHub(Hub):
    """Fan-out fed by Redis pub/sub: one subscription per topic, one reader task."""

    IDLE_PING = 30.0  # seconds without a message before the reader checks the connection
    JOIN_TIMEOUT = 10.0  # seconds a join waits for its subscription
    RECENT = 256  # events kept per topic to answer a joining viewer's replay from memory

    def __init__(self, history: RedisHistory, **options: Any) -> None:
        super().__init__(**options)
        self.history = history
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
        return Replay(last, [event for event in recent if event.id > after])  # type: ignore[operator]

    def _advance(self, topic: str, event_id: int) -> None:
        """Note the newest id handed on, unless the topic was let go while we waited."""
        if topic in self._ready:
            self._last_seen[topic] = max(event_id, self._last_seen.get(topic, 0))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
