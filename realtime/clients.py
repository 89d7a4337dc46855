"""Redis clients, one per event loop (and per URL and reply decoding).

A ``redis.asyncio`` connection belongs to the loop that opened it. The ASGI server's loop
and the publisher thread's loop each get their own client, a part of the loop's runtime
(``realtime.runtime``), dropped once its loop has closed (a test's loop).

Each client's pool *waits* for a free connection (up to ``POOL_WAIT`` seconds) instead of
failing: redis-py's default pool raises ``MaxConnectionsError`` past 100 connections, which a
storm of thousands of viewers connecting at once reaches. A command on a connection that a
Redis restart left broken is retried once on a fresh connection. A Redis that stops answering
without closing its sockets (stuck, or a network that drops packets) fails a command after
``SOCKET_TIMEOUT`` seconds (twice that with the retry) instead of holding it, and whatever
waits for it (a publish, a viewer's history read, a presence write), for ever. Generous, since
uvloop runs timers before reading sockets: after the loop was busy for a moment (a big
fan-out), a tight timeout would fire although the answer had arrived.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, TimeoutError
from redis.retry import Retry

from realtime.cluster import async_cluster_client, is_cluster
from realtime.runtime import runtime

POOL_SIZE = 64
POOL_WAIT = 5.0
SOCKET_TIMEOUT = 5.0


def redis_client(url: str, *, decode_responses: bool = False) -> Redis | RedisCluster:
    """The client for ``url`` on the running loop."""
    return runtime().part(
        (redis_client, url, decode_responses), lambda: _new_client(url, decode_responses)
    )


def _new_client(url: str, decode_responses: bool) -> Redis | RedisCluster:
    if is_cluster(url):
        return async_cluster_client(
            url,
            max_connections=POOL_SIZE,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
            decode_responses=decode_responses,
            driver_info=None,
        )
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=POOL_SIZE,
        timeout=POOL_WAIT,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=SOCKET_TIMEOUT,
        decode_responses=decode_responses,
        retry=Retry(NoBackoff(), 1),
        retry_on_error=[ConnectionError, TimeoutError],
        health_check_interval=1,
        # No CLIENT SETINFO on connect: Redis before 7.2 refuses it, and a connect cut short
        # after sending it left the refusal to be read as the next command's answer.
        driver_info=None,
    )
    return Redis(connection_pool=pool)
