"""One ``REDIS_URL`` for a single Redis or a Redis Cluster: the server says which it is.

``REDIS_URL`` may name any node of a cluster (``redis://10.0.0.5:7000/0``); ``is_cluster`` asks
that node once (``INFO cluster``) and the client builders here then hand out a cluster client,
which finds the other nodes and follows slots as they move, or a plain client. Code that talks
to Redis builds its clients here and keeps every command to keys of one hash slot (the braces
in our key names), so the same code runs on both.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster

logger = logging.getLogger(__name__)

DETECT_TIMEOUT = 1.0


def is_cluster(url: str) -> bool:
    """Whether the Redis at ``url`` is a cluster node. Asked once per URL and process; a Redis
    that does not answer is taken as a single node for now and asked again next time."""
    try:
        return _ask_is_cluster(url)
    except redis.RedisError as exc:
        logger.warning("could not ask %s whether it is a cluster (%s): assuming not", url, exc)
        return False


@cache
def _ask_is_cluster(url: str) -> bool:
    client = redis.Redis.from_url(
        url, socket_timeout=DETECT_TIMEOUT, socket_connect_timeout=DETECT_TIMEOUT
    )
    try:
        return bool(client.info("cluster").get("cluster_enabled"))
    finally:
        client.close()


def sync_client(url: str, **options: Any) -> redis.Redis | redis.cluster.RedisCluster:
    """A blocking client for ``url``: a cluster client when it names a cluster node."""
    if is_cluster(url):
        return redis.cluster.RedisCluster.from_url(url, **options)
    return redis.Redis.from_url(url, **options)


def async_cluster_client(url: str, **options: Any) -> redis.asyncio.cluster.RedisCluster:
    """An asyncio cluster client for ``url`` (which must name a cluster node)."""
    return redis.asyncio.cluster.RedisCluster.from_url(url, **options)
