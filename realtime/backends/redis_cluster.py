"""The Redis Cluster backend: ``realtime.backends.redis`` spread over a cluster's masters.

Chosen by ``REDIS_URL`` alone: ``RedisHistory`` on a URL naming any cluster node is a
``RedisClusterHistory`` (``realtime.cluster.is_cluster`` asks the node). A topic's keys and
its channel share one hash slot (the braces in ``rt:{topic}:seq`` and ``rt:0:{topic}``), so
one master numbers, retains and announces its events: the append script ``SPUBLISH``es on
that master, and only the nodes of its shard carry the message, not the whole cluster.

The hub keeps one plain pub/sub connection (a ``Feed``) per master that serves topics of this
process, ``SSUBSCRIBE``s each topic there, and reads each connection with one task.

Failover. When a master dies its replica takes over its slots; replication is asynchronous,
so the replica may lack the last events (and ids) the master gave out and published, and its
counter would give those ids out again to other events. Two things keep that from reaching a
client as a silent gap or a wrong event:

- The store: each topic records the node whose counter gives out its ids
  (``rt:{topic}:node``, the node's ``CLUSTER MYID``). The append and replay scripts check it
  first: on another node, the topic's counter restarts from the clock (``counter_start()``,
  above every id given out before) and its log is dropped, once, whichever process gets there
  first. So a client resuming with an id from before the failover is told to ``reset``.
- The hub: a feed whose connection broke refreshes the slot table; its topics now served by
  another node (the promoted replica) are subscribed there and their clients reset, as after
  a Redis restart. A slot moved by resharding is handled the same way (the old master drops
  its subscribers with an ``sunsubscribe``, which the hub takes for a broken connection).

What remains: events appended on the old master after its last replicated write and before it
died are lost (their clients get ``reset``, never the events); while no master serves a slot
(about the cluster's node timeout plus the election) appends to its topics fail, as with a
single Redis that is down.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisClusterException, RedisError

from realtime.backends.base import HistoryStore
from realtime.backends.pubsub import Feed, PubSubHub
from realtime.backends.redis import APPEND_LUA, REPLAY_LUA, RedisHistory
from realtime.clients import redis_client
from realtime.protocol import Event

logger = logging.getLogger(__name__)

# KEYS[4] names the node whose counter gives out the topic's ids. On another node (a promoted
# replica) the counter jumps to ``clock`` and the log, which may lack the last events, goes.
# A topic without a record is either new (an append records it) or kept by an older version
# (recorded by its next append, as it is).
NODE_CHECK = b"""
local function check_node(clock, appending)
  local me = redis.call('CLUSTER', 'MYID')
  local was = redis.call('GET', KEYS[4])
  if was == me or not (was or appending) then
    return
  end
  if was then
    redis.call('SET', KEYS[1], clock, 'KEEPTTL')
    redis.call('SET', KEYS[3], clock, 'KEEPTTL')
    redis.call('DEL', KEYS[2])
  end
  redis.call('SET', KEYS[4], me, 'KEEPTTL')
end
"""


class RedisClusterHistory(RedisHistory):
    PARTS = ("seq", "log", "start", "node")
    PUBLISH = "SPUBLISH"
    APPEND = AsyncScript(None, NODE_CHECK + b"check_node(ARGV[6], true)\n" + APPEND_LUA)  # type: ignore[arg-type]
    REPLAY = AsyncScript(None, NODE_CHECK + b"check_node(ARGV[2], false)\n" + REPLAY_LUA)  # type: ignore[arg-type]

    # One by one, as before: a batch's topics live on several nodes, and this store does not
    # pipeline per node.
    append_many = HistoryStore.append_many

    def make_hub(self, **options: Any) -> PubSubHub:
        return RedisClusterHub(self, **options)

    async def announce(self, topic: str, event: Event) -> None:
        await redis_client(self.redis_url).spublish(self.channel(topic), event.encoded)


class RedisClusterHub(PubSubHub):
    """Fan-out fed by sharded pub/sub: one connection per master serving this process's
    topics, one subscription per topic on the master of its slot."""

    def __init__(self, history: RedisHistory, **options: Any) -> None:
        super().__init__(history, **options)
        self.client_name = f"realtime-hub-{os.getpid()}-{id(self):x}"
        self._feeds: dict[str, Feed] = {}  # by node name (host:port)
        self._carried_by: dict[str, Feed] = {}  # by topic

    @property
    def connections(self) -> int:
        return sum(feed.reader is not None for feed in self._feeds.values())

    async def _cluster(self) -> RedisCluster:
        cluster = redis_client(self.history.redis_url)
        assert isinstance(cluster, RedisCluster)
        await cluster.initialize()  # once: reads the slot table
        return cluster

    async def feed_for(self, topic: str) -> Feed:
        node = (await self._cluster()).get_node_from_key(self.history.channel(topic))
        feed = self._feeds.get(node.name)
        if feed is None:
            # Errors reach the reader, which reconnects (and finds the slot's new master).
            client = Redis(
                host=node.host,
                port=node.port,
                retry=Retry(NoBackoff(), 0),
                client_name=self.client_name,
            )
            feed = self._feeds[node.name] = Feed(self, client, sharded=True)
        self._carried_by[topic] = feed
        return feed

    async def unfeed(self, topic: str) -> None:
        feed = self._carried_by.pop(topic)
        await feed.remove(topic)
        self._forget_if_idle(feed)

    def _forget_if_idle(self, feed: Feed) -> None:
        for name, known in list(self._feeds.items()):
            if known is feed and not feed.topics:
                del self._feeds[name]

    async def reconnecting(self, feed: Feed) -> None:
        """The feed's node may have died: read the slot table again, and move the topics
        another node serves now there, to be reset (their new master may lack their last
        ids; its scripts move their counters past them)."""
        try:
            cluster = await self._cluster()
            await cluster.nodes_manager.initialize()
            for topic in list(feed.topics):
                node = cluster.get_node_from_key(self.history.channel(topic))
                if self._feeds.get(node.name) is not feed:
                    feed.topics.discard(topic)
                    self.lose({topic})
                    await (await self.feed_for(topic)).add(topic)
        except (RedisError, RedisClusterException, OSError) as exc:
            logger.warning("realtime: cannot read the cluster's slots yet (%s)", exc)
        self._forget_if_idle(feed)
