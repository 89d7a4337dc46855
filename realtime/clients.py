"""Redis clients, one per event loop (and per URL and reply decoding).

A ``redis.asyncio`` connection belongs to the loop that opened it. The ASGI server's loop
and the publisher thread's loop each get their own client; clients of loops that have
since closed (a test's loop) are dropped so their sockets are released.

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

import asyncio

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, TimeoutError
from redis.retry import Retry

from realtime.cluster import async_cluster_client, is_cluster

POOL_SIZE = 64
POOL_WAIT = 5.0
SOCKET_TIMEOUT = 5.0

_clients: dict[tuple[asyncio.AbstractEventLoop, str, bool], Redis | RedisCluster] = {}


def redis_client(url: str, *, decode_responses: bool = False) -> Redis | RedisCluster:
    """The client for ``url`` on the running loop."""
    loop = asyncio.get_running_loop()
    key = (loop, url, decode_responses)
    client = _clients.get(key)
    if client is None:
        for stale in [k for k in _clients if k[0].is_closed()]:
            del _clients[stale]
        if is_cluster(url):
            client = _clients[key] = async_cluster_client(
                url,
                max_connections=POOL_SIZE,
                socket_timeout=SOCKET_TIMEOUT,
                socket_connect_timeout=SOCKET_TIMEOUT,
                decode_responses=decode_responses,
            )
            return client
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
        )
        client = _clients[key] = Redis(connection_pool=pool)
    return client
