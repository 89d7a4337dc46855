"""Redis presence store: shared by every process of a deployment.

Keys (``prefix`` defaults to ``presence:``), each a sorted set scored by deadline, so a count is
one ``ZCOUNT now +inf`` and lapsed members are purged with ``ZREMRANGEBYSCORE -inf now``:

- ``t:<topic>``: connection ids on the topic (live viewers);
- ``u:<user id>``: ``<topic>\\n<connection id>`` for each of the user's connections, kept
  ``grace`` seconds past a close;
- ``last_seen``: a hash of user id to the time of their last heartbeat or close.

Every key is given a TTL of ``ttl`` on each write, which outlasts all its deadlines, so keys of
idle topics and users vanish on their own. One operation is one pipelined round trip (on a
Redis Cluster, one per node the keys live on: no command touches two keys).

The sync client (REST views and pages read viewer counts with it) gives up after ``timeout``
seconds and one retry, so a Redis that is down or stuck costs a request about two timeouts at
most, never a hang; a failure is raised as ``StoreUnavailable``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry

from presence.backends.base import PresenceConnection, PresenceStore, StoreUnavailable, UserState
from realtime.clients import redis_client
from realtime.cluster import sync_client

Parse = Callable[[list[Any]], Any]


class RedisPresenceStore(PresenceStore):
    def __init__(self, *, url: str, prefix: str = "presence:", timeout: float = 1.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.url = url
        self.prefix = prefix
        # One retry: a pooled connection left broken by a Redis restart reconnects at once.
        self._client = sync_client(
            url,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
        )

    def heartbeat(self, connections: Iterable[PresenceConnection]) -> None:
        self._run(self._heartbeat, list(connections))

    def remove(self, connections: Iterable[PresenceConnection]) -> None:
        self._run(self._remove, list(connections))

    def viewer_counts(self, topics: Iterable[str]) -> dict[str, int]:
        return self._run(self._viewer_counts, list(topics))

    def users_on_topic(self, topic: str, user_ids: Iterable[int]) -> set[int]:
        return self._run(self._users_on_topic, topic, list(user_ids))

    def users_presence(self, user_ids: Iterable[int]) -> dict[int, UserState]:
        return self._run(self._users_presence, list(user_ids))

    async def aheartbeat(self, connections: Iterable[PresenceConnection]) -> None:
        await self._arun(self._heartbeat, list(connections))

    async def aremove(self, connections: Iterable[PresenceConnection]) -> None:
        await self._arun(self._remove, list(connections))

    async def aviewer_counts(self, topics: Iterable[str]) -> dict[str, int]:
        return await self._arun(self._viewer_counts, list(topics))

    async def ausers_on_topic(self, topic: str, user_ids: Iterable[int]) -> set[int]:
        return await self._arun(self._users_on_topic, topic, list(user_ids))

    async def ausers_presence(self, user_ids: Iterable[int]) -> dict[int, UserState]:
        return await self._arun(self._users_presence, list(user_ids))

    def close(self) -> None:
        self._client.close()

    # Each operation queues its commands on a pipeline and returns how to read the replies, so
    # the sync and async paths share everything but the client.

    def _run(self, op: Callable[..., Parse], *args: Any) -> Any:
        pipe = self._client.pipeline(transaction=False)
        parse = op(pipe, *args)
        try:
            replies = pipe.execute()
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc
        return parse(replies)

    async def _arun(self, op: Callable[..., Parse], *args: Any) -> Any:
        pipe = self._aclient().pipeline(transaction=False)
        parse = op(pipe, *args)
        try:
            replies = await pipe.execute()
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc
        return parse(replies)

    def _aclient(self) -> redis.asyncio.Redis:
        return redis_client(self.url, decode_responses=True)

    def _heartbeat(self, pipe: Any, connections: list[PresenceConnection]) -> Parse:
        now = self.clock()
        deadline = now + self.ttl
        by_topic: defaultdict[str, dict[str, float]] = defaultdict(dict)
        by_user: defaultdict[int, dict[str, float]] = defaultdict(dict)
        for conn in connections:
            by_topic[conn.topic][conn.connection_id] = deadline
            if conn.user_id is not None:
                by_user[conn.user_id][self._member(conn)] = deadline
        for key, mapping in [
            *((self._topic_key(t), m) for t, m in by_topic.items()),
            *((self._user_key(u), m) for u, m in by_user.items()),
        ]:
            pipe.zadd(key, mapping)
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.pexpire(key, self._ttl_ms)
        if by_user:
            pipe.hset(self._last_seen_key, mapping=dict.fromkeys(by_user, now))
        return lambda replies: None

    def _remove(self, pipe: Any, connections: list[PresenceConnection]) -> Parse:
        now = self.clock()
        by_topic: defaultdict[str, list[str]] = defaultdict(list)
        by_user: defaultdict[int, dict[str, float]] = defaultdict(dict)
        for conn in connections:
            by_topic[conn.topic].append(conn.connection_id)
            if conn.user_id is not None:
                by_user[conn.user_id][self._member(conn)] = now + self.grace
        for topic, connection_ids in by_topic.items():
            pipe.zrem(self._topic_key(topic), *connection_ids)
        for uid, mapping in by_user.items():
            key = self._user_key(uid)
            pipe.zadd(key, mapping)
            pipe.pexpire(key, self._ttl_ms)
        if by_user:
            pipe.hset(self._last_seen_key, mapping=dict.fromkeys(by_user, now))
        return lambda replies: None

    def _viewer_counts(self, pipe: Any, topics: list[str]) -> Parse:
        now = self.clock()
        for topic in topics:
            pipe.zremrangebyscore(self._topic_key(topic), "-inf", now)
            pipe.zcount(self._topic_key(topic), f"({now!r}", "+inf")
        return lambda replies: dict(zip(topics, replies[1::2], strict=True))

    def _users_on_topic(self, pipe: Any, topic: str, user_ids: list[int]) -> Parse:
        now = self.clock()
        for uid in user_ids:
            pipe.zrangebyscore(self._user_key(uid), f"({now!r}", "+inf")
        prefix = f"{topic}\n"
        return lambda replies: {
            uid
            for uid, members in zip(user_ids, replies, strict=True)
            if any(m.startswith(prefix) for m in members)
        }

    def _users_presence(self, pipe: Any, user_ids: list[int]) -> Parse:
        if not user_ids:
            return lambda replies: {}
        now = self.clock()
        for uid in user_ids:
            # The member with the highest score carries the user's latest deadline.
            pipe.zrange(self._user_key(uid), -1, -1, withscores=True)
        pipe.hmget(self._last_seen_key, [str(uid) for uid in user_ids])

        def parse(replies: list[Any]) -> dict[int, UserState]:
            *tops, last_seen = replies
            return {
                uid: UserState(bool(top) and top[0][1] > now, float(seen) if seen else None)
                for uid, top, seen in zip(user_ids, tops, last_seen, strict=True)
            }

        return parse

    @property
    def _ttl_ms(self) -> int:
        return math.ceil(self.ttl * 1000)

    @property
    def _last_seen_key(self) -> str:
        return f"{self.prefix}last_seen"

    def _topic_key(self, topic: str) -> str:
        return f"{self.prefix}t:{topic}"

    def _user_key(self, user_id: int) -> str:
        return f"{self.prefix}u:{user_id}"

    @staticmethod
    def _member(connection: PresenceConnection) -> str:
        return f"{connection.topic}\n{connection.connection_id}"
