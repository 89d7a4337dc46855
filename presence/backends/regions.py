"""Presence over several regions (with ``realtime.backends.regions``): each region keeps its own
connections in its own Redis (exactly the Redis store), tells the regions that watch a topic
its **share** of it, and reads the merged view.

A region's share of a topic is its own live viewer count and the signed-in users on the topic
there (live or inside their grace period). It goes over NATS on ``rt.pr.<topic>``, which a
region's processes subscribe while they have connections to the topic (queue group: the
region's name), so the gateways carry it only to the regions that watch the topic, once each,
as they do the topic's events. A share is sent when it changed (at most once per tracker
flush) and again every heartbeat interval while it stays the same; the processes of a region
agree in its Redis on which one sends it (``SENT_LUA``), so a region sends one share per
change or interval, however many of its processes have viewers of the topic.

The process that receives another region's share keeps it in its region's Redis for ``ttl``
(heartbeat interval + grace period, as long as a connection outlives its last heartbeat), so a
region that stops reporting (dead, or cut off) drops out of the total when that runs out. Then:

- a viewer count is this region's count plus the latest share of each other region (a person
  watching in two regions at once counts in both);
- a user is on a topic, and online, when they are in this region or in another's share (so
  ``left`` comes only after the grace period everywhere); ``last_seen`` is the later of this
  region's and the time of the last share that listed them.

Keys, next to the Redis store's (``presence:``; a topic's share keys carry its hash tag):
``{<topic>}:r:<region>`` (a region's count), ``{<topic>}:ru:<region>`` (its users),
``{<topic>}:sent`` (the digest of the share this region sent last) and ``ru`` (a sorted set of
users listed by another region, scored by when).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from presence.backends.redis import Parse, RedisPresenceStore
from realtime.conf import RealtimeConfig
from realtime.regions import NatsLinks, Subjects

logger = logging.getLogger(__name__)

# KEYS: the topic's sent key. ARGV: the share's digest, its ttl (ms), how long (ms) an
# identical share counts as sent. Returns 1 when this process is to send it.
SENT_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1]
   and redis.call('PTTL', KEYS[1]) > tonumber(ARGV[2]) - tonumber(ARGV[3]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
RESEND_SHARE = 0.9  # an identical share is sent again after this much of a heartbeat interval


class _Subscribing:
    """A topic's place in ``_watching`` while its subscription is being made."""


async def _nothing(client: Client) -> None:
    """The presence store serves no requests over NATS."""


class RegionsPresenceStore(RedisPresenceStore):
    """The Redis store of this region, merged with the other regions' shares."""

    def __init__(self, *, url: str, **kwargs: Any) -> None:
        config = RealtimeConfig.from_settings()
        self.region: str = kwargs.pop("region", config.region)
        regions: tuple[str, ...] = tuple(kwargs.pop("regions", config.regions))
        nats_url: str = kwargs.pop("nats_url", config.nats_url)
        self.subjects = Subjects(kwargs.pop("key_prefix", config.key_prefix))
        super().__init__(url=url, **kwargs)
        if self.region not in regions:
            raise ValueError(f"REALTIME['REGION'] {self.region!r} is not in REGIONS")
        self.others = tuple(r for r in regions if r != self.region)
        self.links = NatsLinks(nats_url, _nothing)
        self._watching: dict[asyncio.AbstractEventLoop, dict[str, Subscription | _Subscribing]] = {}
        self._lock = threading.Lock()

    # Telling the other regions this region's share.

    async def ashare(self, topic: str) -> None:
        if not self.others:
            return  # a deployment of one region has nobody to tell
        now = self.clock()
        pipe = self._aclient().pipeline(transaction=False)
        pipe.zcount(self._viewers_key(topic), f"({now!r}", "+inf")
        pipe.zrangebyscore(self._audience_key(topic), f"({now!r}", "+inf")
        count, users = await pipe.execute()
        share = {"count": count, "users": sorted(int(uid) for uid in users)}
        digest = hashlib.sha1(json.dumps(share).encode()).hexdigest()
        fresh_ms = int(RESEND_SHARE * (self.ttl - self.grace) * 1000)
        args = (digest, self._ttl_ms, fresh_ms)
        if not await self._aclient().eval(SENT_LUA, 1, self._sent_key(topic), *args):
            return  # this region told it already (another process, or this one lately)
        body = json.dumps({"region": self.region, "at": now, **share}).encode()
        await (await self.links.client()).publish(self._subject(topic), body)

    # Taking in the other regions' shares.

    async def awatch(self, topic: str, changed: Callable[[str], None]) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            for stale in [other for other in self._watching if other.is_closed()]:
                del self._watching[stale]
            watching = self._watching.setdefault(loop, {})
        if topic in watching:
            return

        async def arrived(message: Msg) -> None:
            try:
                share = json.loads(message.data)
                if share["region"] in self.others:
                    await self._take(topic, share)
                    changed(topic)
            except Exception:
                logger.exception("presence: could not take in a share of %s", topic)

        watching[topic] = claim = _Subscribing()
        try:
            client = await self.links.client()
            subscription = await client.subscribe(
                self._subject(topic), queue=self.region, cb=arrived
            )
        except BaseException:
            if watching.get(topic) is claim:
                del watching[topic]
            raise
        if watching.get(topic) is claim:
            watching[topic] = subscription
        else:  # unwatched meanwhile
            await subscription.unsubscribe()

    async def aunwatch(self, topic: str) -> None:
        subscription = self._watching.get(asyncio.get_running_loop(), {}).pop(topic, None)
        if isinstance(subscription, Subscription):
            await subscription.unsubscribe()

    async def _take(self, topic: str, share: dict[str, Any]) -> None:
        """Keep another region's share of ``topic`` here for ``ttl``."""
        region, at, users = share["region"], float(share["at"]), share["users"]
        users_key, ttl_ms = self._share_users_key(topic, region), self._ttl_ms
        pipe = self._aclient().pipeline(transaction=False)
        pipe.set(self._share_key(topic, region), int(share["count"]), px=ttl_ms)
        pipe.delete(users_key)
        if users:
            pipe.sadd(users_key, *users)
            pipe.pexpire(users_key, ttl_ms)
            pipe.zadd(self._remote_users_key, dict.fromkeys(users, at), gt=True)
            pipe.zremrangebyscore(self._remote_users_key, "-inf", self.clock() - self.ttl)
            pipe.pexpire(self._remote_users_key, ttl_ms)
        await pipe.execute()

    # Reads: this region's, merged with the other regions' shares.

    def _viewer_counts(self, pipe: Any, topics: list[str]) -> Parse:
        local = super()._viewer_counts(pipe, topics)
        if not self.others:
            return local
        for topic in topics:
            pipe.mget([self._share_key(topic, region) for region in self.others])

        def parse(replies: list[Any]) -> dict[str, int]:
            counts = local(replies[: 2 * len(topics)])
            for topic, shares in zip(topics, replies[2 * len(topics) :], strict=True):
                counts[topic] += sum(int(count) for count in shares if count)
            return counts

        return parse

    def _users_on_topic(self, pipe: Any, topic: str, user_ids: list[int]) -> Parse:
        local = super()._users_on_topic(pipe, topic, user_ids)
        if not user_ids:
            return local
        for region in self.others:
            pipe.smismember(self._share_users_key(topic, region), user_ids)

        def parse(replies: list[Any]) -> set[int]:
            found = local(replies[:1])
            for flags in replies[1:]:
                found |= {uid for uid, flag in zip(user_ids, flags, strict=True) if flag}
            return found

        return parse

    def _users_present(self, pipe: Any, topic: str, limit: int) -> Parse:
        local = super()._users_present(pipe, topic, limit)
        for region in self.others:
            pipe.srandmember(self._share_users_key(topic, region), limit)

        def parse(replies: list[Any]) -> set[int]:
            found = local(replies[:1])
            for members in replies[1:]:
                found |= {int(uid) for uid in members[: max(0, limit - len(found))]}
            return found

        return parse

    def _users_presence(self, pipe: Any, user_ids: list[int]) -> Parse:
        local = super()._users_presence(pipe, user_ids)
        if not user_ids:
            return local
        pipe.zmscore(self._remote_users_key, user_ids)

        def parse(replies: list[Any]) -> dict[int, Any]:
            states = local(replies[:-1])
            alive = self.clock() - self.ttl
            for uid, at in zip(user_ids, replies[-1], strict=True):
                if at is not None and at > alive:
                    seen = max(at, states[uid].last_seen or at)
                    states[uid] = states[uid]._replace(online=True, last_seen=seen)
            return states

        return parse

    def _subject(self, topic: str) -> str:
        self.subjects.events(topic)  # the same check of the topic
        return f"{self.subjects.prefix}.pr.{topic}"

    def _share_key(self, topic: str, region: str) -> str:
        return f"{self.prefix}{{{topic}}}:r:{region}"

    def _share_users_key(self, topic: str, region: str) -> str:
        return f"{self.prefix}{{{topic}}}:ru:{region}"

    def _sent_key(self, topic: str) -> str:
        return f"{self.prefix}{{{topic}}}:sent"

    @property
    def _remote_users_key(self) -> str:
        return f"{self.prefix}ru"
