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

``RedisHub`` holds one Redis pub/sub subscription per topic with local connections, all on
one connection read by one task (``realtime.backends.pubsub``: what it does with what it
reads is shared with the cluster backend).

On a Redis Cluster (``REDIS_URL`` naming any of its nodes) ``RedisHistory`` is the cluster
backend, ``realtime.backends.redis_cluster``, without a setting of its own.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.connection import parse_url

from realtime.backends.base import Entry, HistoryStore, Replay, counter_start
from realtime.backends.pubsub import Feed, PubSubHub
from realtime.clients import redis_client
from realtime.cluster import is_cluster
from realtime.protocol import Event, decode_event, encoded_parts

# Keep ``event`` under ``id`` in the log (KEYS[2]) trimmed to ARGV[3] events, make every key
# expire ARGV[4] seconds from now, and publish the event with command ARGV[7] on channel
# ARGV[5] (the end of every script that adds an event).
RETAIN_LUA = b"""
redis.call('ZADD', KEYS[2], id, event)
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[3]) + 1))
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  for _, key in ipairs(KEYS) do
    redis.call('EXPIRE', key, ttl)
  end
end
redis.call(ARGV[7], ARGV[5], event)
"""

# KEYS: the topic's seq, log and start (and more a subclass's prelude uses); ARGV: the encoded
# event before and after its id, the size, the ttl, the channel, counter_start(), the publish
# command.
APPEND_LUA = (
    b"""
if redis.call('SET', KEYS[1], ARGV[6], 'NX') then
  redis.call('SET', KEYS[3], ARGV[6])
end
local id = redis.call('INCR', KEYS[1])
-- %d: Lua would write a number this large as 1.7957733328767e+15.
local event = ARGV[1] .. string.format('%d', id) .. ARGV[2]
"""
    + RETAIN_LUA
    + b"return id\n"
)

# KEYS as APPEND's; ARGV: the cursor ('' for none), counter_start().
REPLAY_LUA = b"""
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local events = {}
if ARGV[1] ~= '' then
  events = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf')
end
return {last, first[2] or '', redis.call('GET', KEYS[3]) or '', events}
"""


class RedisHistory(HistoryStore):
    """History in one Redis; on a ``redis_url`` that names a Redis Cluster node, the instance
    made is a ``realtime.backends.redis_cluster.RedisClusterHistory`` (as ``pathlib.Path``
    makes a ``PosixPath``), so ``REDIS_URL`` alone decides."""

    PARTS = ("seq", "log", "start")  # the keys of a topic
    PUBLISH = "PUBLISH"
    APPEND = AsyncScript(None, APPEND_LUA)  # type: ignore[arg-type]
    REPLAY = AsyncScript(None, REPLAY_LUA)  # type: ignore[arg-type]

    def __new__(cls, **options: Any) -> RedisHistory:
        url = options.get("redis_url", "")
        if cls is RedisHistory and url and is_cluster(url):
            from realtime.backends.redis_cluster import RedisClusterHistory

            cls = RedisClusterHistory
        return super().__new__(cls)

    def __init__(self, *, size: int, ttl: int = 0, redis_url: str = "", key_prefix: str = "rt"):
        if not redis_url:
            raise ValueError("RedisHistory needs REALTIME['REDIS_URL']")
        super().__init__(size=size, ttl=ttl, redis_url=redis_url, key_prefix=key_prefix)
        self._channel_prefix = f"{key_prefix}:{parse_url(redis_url).get('db', 0)}:"

    def make_hub(self, **options: Any) -> PubSubHub:
        return RedisHub(self, **options)

    def channel(self, topic: str) -> str:
        """The pub/sub channel that carries a topic's events."""
        # The braces put a topic's channel in its keys' hash slot on a cluster.
        return f"{self._channel_prefix}{{{topic}}}"

    def topic_of(self, channel: bytes) -> str:
        """The topic a channel carries (``channel``'s inverse)."""
        return channel.decode()[len(self._channel_prefix) + 1 : -1]

    def key(self, topic: str, part: str) -> str:
        """The Redis key of a topic's ``seq``, ``log`` or ``start``."""
        return f"{self.key_prefix}:{{{topic}}}:{part}"

    def _keys(self, topic: str) -> list[str]:
        return [self.key(topic, part) for part in self.PARTS]

    async def append(
        self, topic: str, event_type: str, data: dict[str, Any], *, ts: float, data_json: str
    ) -> Event:
        prefix, suffix = encoded_parts(event_type, ts, data_json)
        event_id = await self._append(topic, prefix, suffix, redis_client(self.redis_url))
        return Event(event_type, int(event_id), ts, data, f"{prefix}{event_id}{suffix}")

    async def append_many(self, entries: Sequence[Entry]) -> None:
        # One round trip for them all, in order (a pipeline, not a transaction: each append
        # is atomic on its own, as one by one); the sender's queue under a flood of comments
        # on many topics went one round trip an event (docs/performance.md, "Many
        # broadcasts").
        if len(entries) == 1:
            await super().append_many(entries)
            return
        pipe = redis_client(self.redis_url).pipeline(transaction=False)
        for topic, event_type, _, ts, data_json in entries:
            await self._append(topic, *encoded_parts(event_type, ts, data_json), pipe)
        await pipe.execute()

    async def _append(self, topic: str, prefix: str, suffix: str, client: Any) -> Any:
        return await self.APPEND(
            keys=self._keys(topic),
            args=[
                prefix, suffix, self.size, self.ttl, self.channel(topic), counter_start(),
                self.PUBLISH,
            ],
            client=client,
        )  # fmt: skip

    async def announce(self, topic: str, event: Event) -> None:
        await redis_client(self.redis_url).publish(self.channel(topic), event.encoded)

    async def replay(self, topic: str, after: int | None) -> Replay:
        last_id, first_id, start, encoded = await self.REPLAY(
            keys=self._keys(topic),
            args=["" if after is None else after, counter_start()],
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


class RedisHub(PubSubHub):
    """Fan-out fed by Redis pub/sub: one subscription per topic, all on one connection read by
    one task."""

    def __init__(self, history: RedisHistory, **options: Any) -> None:
        super().__init__(history, **options)
        # Errors reach the reader, which reconnects and fills the gap itself. The name shows
        # in CLIENT LIST (one pub/sub connection per server process).
        self.client_name = f"realtime-hub-{os.getpid()}-{id(self):x}"
        client = Redis.from_url(
            history.redis_url, retry=Retry(NoBackoff(), 0), client_name=self.client_name
        )
        self._feed = Feed(self, client)

    async def feed_for(self, topic: str) -> Feed:
        return self._feed

    async def unfeed(self, topic: str) -> None:
        await self._feed.remove(topic)

    @property
    def connections(self) -> int:
        return int(self._feed.reader is not None)
