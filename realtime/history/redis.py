"""History in Redis, shared by every process of a deployment.

Per topic: a counter (``rt:{topic}:seq``), the value it started from (``rt:{topic}:start``)
and a sorted set of encoded events scored by id (``rt:{topic}:log``), where ``rt`` is
``REALTIME["KEY_PREFIX"]``. One Lua script numbers, retains, trims and PUBLISHes an event to
the topic's channel (``rt:<db>:{topic}``, ``<db>`` the database number: keys belong to a
database, but pub/sub channels to the whole Redis server, so without it two deployments on two
databases of one Redis would hear each other's events); Redis runs scripts one at a time, so
every process receives a topic's events in id order. Keys expire ``ttl`` seconds after the
topic's last event. A counter that is missing (a new topic, expired keys, a Redis restarted
empty) starts again from ``counter_start()``, the clock, so ids never go back.
"""

from __future__ import annotations

from typing import Any

from redis.commands.core import AsyncScript
from redis.connection import parse_url

from realtime.clients import redis_client
from realtime.history.base import HistoryStore, Replay, counter_start
from realtime.protocol import Event, decode_event, encoded_parts

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
    hub_class = "realtime.hub.RedisHub"

    def __init__(self, *, size: int, ttl: int = 0, redis_url: str = "", key_prefix: str = "rt"):
        if not redis_url:
            raise ValueError("RedisHistory needs REALTIME['REDIS_URL']")
        super().__init__(size=size, ttl=ttl, redis_url=redis_url, key_prefix=key_prefix)
        self._channel_prefix = f"{key_prefix}:{parse_url(redis_url).get('db', 0)}:"

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
