"""What redis-py's asyncio cluster client does on a real Redis Cluster, held as tests because
the cluster backend of the scale-out issue leans on it (read in redis-py 8's source first)."""

from __future__ import annotations

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.redis_cluster import PrivateRedisCluster

pytestmark = pytest.mark.slow
CHANNEL = "rt:0:{b.1}"


@pytest.fixture(scope="module")
def cluster():
    cluster = PrivateRedisCluster()
    yield cluster
    cluster.destroy()


async def _next_message(pubsub, kind: str) -> dict:
    for _ in range(20):
        message = await pubsub.get_sharded_message(timeout=0.5)
        if message and message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message")


async def test_sharded_pubsub_follows_a_failover_only_if_the_subscriber_subscribes_again(cluster):
    client = RedisCluster.from_url(cluster.url)
    await client.initialize()  # before pubsub(): it looks the channel's node up in the slot table
    try:
        pubsub = client.pubsub()
        await pubsub.ssubscribe(CHANNEL)
        await _next_message(pubsub, "ssubscribe")
        assert await client.spublish(CHANNEL, "before") == 1
        assert (await _next_message(pubsub, "smessage"))["data"] == b"before"

        dead = cluster.kill_master_of(CHANNEL)
        assert cluster.master_of(CHANNEL) != dead

        # The subscription stays on the dead node: reading fails, nothing moves it over.
        with pytest.raises(RedisConnectionError):
            await _next_message(pubsub, "smessage")
        # A new subscription finds the promoted replica once the client reads the new slots.
        await client.aclose()
        client = RedisCluster.from_url(cluster.url)
        await client.initialize()
        again = client.pubsub()
        await again.ssubscribe(CHANNEL)
        await _next_message(again, "ssubscribe")
        assert await client.spublish(CHANNEL, "after") == 1
        assert (await _next_message(again, "smessage"))["data"] == b"after"
    finally:
        await client.aclose()
