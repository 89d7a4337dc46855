"""Redis clients, one per event loop.

A ``redis.asyncio`` connection belongs to the loop that opened it. The ASGI server's loop
and the publisher thread's loop each get their own client; clients of loops that have
since closed (a test's loop) are dropped so their sockets are released.
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

_clients: dict[tuple[asyncio.AbstractEventLoop, str], Redis] = {}


def redis_client(url: str) -> Redis:
    """The client for ``url`` on the running loop."""
    loop = asyncio.get_running_loop()
    client = _clients.get((loop, url))
    if client is None:
        for key in [key for key in _clients if key[0].is_closed()]:
            del _clients[key]
        client = _clients[(loop, url)] = Redis.from_url(url)
    return client
