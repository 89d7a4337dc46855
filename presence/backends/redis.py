"""Redis presence store: shared by every process of a deployment.

Keys (``prefix`` defaults to ``presence:``); a topic's keys carry it as a hash tag (``{<topic>}``)
so that they live on one Redis Cluster node. Sorted sets are scored by deadline, so a count is
one ``ZCOUNT now +inf`` and lapsed members are purged with ``ZREMRANGEBYSCORE -inf now``:

- ``{<topic>}:v``: the topic's viewers (``PresenceConnection.viewer``), each scored by the latest
  deadline of their live connections: what the viewer count counts;
- ``{<topic>}:c:<viewer>``: that viewer's live connection ids on the topic;
- ``{<topic>}:s``: the signed-in users on the topic, scored by deadline, kept ``grace`` seconds
  past their last connection's close;
- ``u:<user id>``: ``<topic>\\n<connection id>`` for each of the user's connections, kept
  ``grace`` seconds past a close (online anywhere);
- ``last_seen``: a hash of user id to the time of their last heartbeat or close.

A close is one Lua script per topic over that topic's keys (one hash slot): it drops the
connection, then drops its viewer only if none of their connections is left in any process
(else lowers the viewer's deadline to the latest of the others), atomically, so a tab opening
elsewhere at that moment is not lost. Every key is given a TTL of ``ttl`` on each write, which
outlasts all its deadlines, so keys of idle topics and users vanish on their own. One operation
is one pipelined round trip (on a Redis Cluster, one per node the keys live on: no command
touches keys of two slots).

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

from presence.backends.base import (
    PresenceConnection,
    PresenceStore,
    StoreUnavailable,
    UserState,
    topics_of,
)
from realtime.clients import redis_client
from realtime.cluster import sync_client

Parse = Callable[[list[Any]], Any]

# Closes of one topic. KEYS: its viewers, its signed-in users, then the closed connections'
# viewer sets. ARGV: now, now + grace, the keys' TTL (ms), then for each closed connection its
# viewer, its id and its user id ("" when anonymous). Scores travel as strings, never as Lua
# numbers, which would round them.
CLOSE = """
local now, held, ttl = ARGV[1], ARGV[2], ARGV[3]
for i = 3, #KEYS do
  local at = 4 + (i - 3) * 3
  local viewer, connection, user = ARGV[at], ARGV[at + 1], ARGV[at + 2]
  redis.call('ZREM', KEYS[i], connection)
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  local latest = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')[2]
  if latest then
    redis.call('ZADD', KEYS[1], latest, viewer)
  else
    redis.call('ZREM', KEYS[1], viewer)
  end
  if user ~= '' then
    local until_ = held
    if latest and tonumber(latest) > tonumber(held) then until_ = latest end
    redis.call('ZADD', KEYS[2], until_, user)
  end
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
"""
# Connections per script run: a run blocks Redis, so a mass close is cut into short runs.
CLOSE_CHUNK = 500


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

    def users_present(self, topic: str, *, limit: int) -> set[int]:
        return self._run(self._users_present, topic, limit)

    def users_presence(self, user_ids: Iterable[int]) -> dict[int, UserState]:
        return self._run(self._users_presence, list(user_ids))

    def change(
        self, opened: Iterable[PresenceConnection], closed: Iterable[PresenceConnection]
    ) -> dict[str, int]:
        return self._run(self._change, list(opened), list(closed))

    async def aheartbeat(self, connections: Iterable[PresenceConnection]) -> None:
        await self._arun(self._heartbeat, list(connections))

    async def aremove(self, connections: Iterable[PresenceConnection]) -> None:
        await self._arun(self._remove, list(connections))

    async def aviewer_counts(self, topics: Iterable[str]) -> dict[str, int]:
        return await self._arun(self._viewer_counts, list(topics))

    async def achange(
        self, opened: Iterable[PresenceConnection], closed: Iterable[PresenceConnection]
    ) -> dict[str, int]:
        return await self._arun(self._change, list(opened), list(closed))

    async def ausers_on_topic(self, topic: str, user_ids: Iterable[int]) -> set[int]:
        return await self._arun(self._users_on_topic, topic, list(user_ids))

    async def ausers_present(self, topic: str, *, limit: int) -> set[int]:
        return await self._arun(self._users_present, topic, limit)

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
        viewers: defaultdict[str, dict[str, dict[str, float]]] = defaultdict(dict)
        on_topic: defaultdict[str, dict[int, float]] = defaultdict(dict)
        by_user: defaultdict[int, dict[str, float]] = defaultdict(dict)
        for conn in connections:
            viewers[conn.topic].setdefault(conn.viewer, {})[conn.connection_id] = deadline
            if conn.user_id is not None:
                on_topic[conn.topic][conn.user_id] = deadline
                by_user[conn.user_id][self._member(conn)] = deadline
        for topic, by_viewer in viewers.items():
            for viewer, mapping in by_viewer.items():
                # Lapsed ids here are purged by the next close of this viewer, or expire.
                pipe.zadd(self._viewer_key(topic, viewer), mapping)
                pipe.pexpire(self._viewer_key(topic, viewer), self._ttl_ms)
            self._push(pipe, self._viewers_key(topic), dict.fromkeys(by_viewer, deadline), now)
        for topic, mapping in on_topic.items():
            self._push(pipe, self._audience_key(topic), mapping, now)
        for uid, mapping in by_user.items():
            self._push(pipe, self._user_key(uid), mapping, now)
        if by_user:
            pipe.hset(self._last_seen_key, mapping=dict.fromkeys(by_user, now))
        return lambda replies: None

    def _push(self, pipe: Any, key: str, mapping: dict[Any, float], now: float) -> None:
        """Raise these members' deadlines (never lower one), purge the lapsed, renew the TTL."""
        pipe.zadd(key, mapping, gt=True)
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.pexpire(key, self._ttl_ms)

    def _remove(self, pipe: Any, connections: list[PresenceConnection]) -> Parse:
        now = self.clock()
        by_topic: defaultdict[str, list[PresenceConnection]] = defaultdict(list)
        by_user: defaultdict[int, dict[str, float]] = defaultdict(dict)
        for conn in connections:
            by_topic[conn.topic].append(conn)
            if conn.user_id is not None:
                by_user[conn.user_id][self._member(conn)] = now + self.grace
        for topic, closed in by_topic.items():
            for start in range(0, len(closed), CLOSE_CHUNK):
                chunk = closed[start : start + CLOSE_CHUNK]
                keys = [self._viewers_key(topic), self._audience_key(topic)]
                keys += [self._viewer_key(topic, conn.viewer) for conn in chunk]
                args = [repr(now), repr(now + self.grace), self._ttl_ms]
                for conn in chunk:
                    user = "" if conn.user_id is None else str(conn.user_id)
                    args += [conn.viewer, conn.connection_id, user]
                # Not pipe.eval(): redis-py's cluster pipeline shadows it; the command routes.
                pipe.execute_command("EVAL", CLOSE, len(keys), *keys, *args)
        for uid, mapping in by_user.items():
            key = self._user_key(uid)
            pipe.zadd(key, mapping)
            pipe.pexpire(key, self._ttl_ms)
        if by_user:
            pipe.hset(self._last_seen_key, mapping=dict.fromkeys(by_user, now))
        return lambda replies: None

    def _change(
        self, pipe: Any, opened: list[PresenceConnection], closed: list[PresenceConnection]
    ) -> Parse:
        self._heartbeat(pipe, opened)
        self._remove(pipe, closed)
        written = len(pipe)  # the counts' replies follow the writes'
        counts = self._viewer_counts(pipe, topics_of(opened + closed))
        return lambda replies: counts(replies[written:])

    def _viewer_counts(self, pipe: Any, topics: list[str]) -> Parse:
        now = self.clock()
        for topic in topics:
            pipe.zremrangebyscore(self._viewers_key(topic), "-inf", now)
            pipe.zcount(self._viewers_key(topic), f"({now!r}", "+inf")
        return lambda replies: dict(zip(topics, replies[1::2], strict=True))

    def _users_on_topic(self, pipe: Any, topic: str, user_ids: list[int]) -> Parse:
        if not user_ids:
            return lambda replies: set()
        now = self.clock()
        pipe.zmscore(self._audience_key(topic), user_ids)
        return lambda replies: {
            uid
            for uid, until in zip(user_ids, replies[0], strict=True)
            if until is not None and until > now
        }

    def _users_present(self, pipe: Any, topic: str, limit: int) -> Parse:
        now = self.clock()
        pipe.zrevrangebyscore(self._audience_key(topic), "+inf", f"({now!r}", start=0, num=limit)
        return lambda replies: {int(uid) for uid in replies[0]}

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

    def _viewers_key(self, topic: str) -> str:
        return f"{self.prefix}{{{topic}}}:v"

    def _viewer_key(self, topic: str, viewer: str) -> str:
        return f"{self.prefix}{{{topic}}}:c:{viewer}"

    def _audience_key(self, topic: str) -> str:
        return f"{self.prefix}{{{topic}}}:s"

    def _user_key(self, user_id: int) -> str:
        return f"{self.prefix}u:{user_id}"

    @staticmethod
    def _member(connection: PresenceConnection) -> str:
        return f"{connection.topic}\n{connection.connection_id}"
