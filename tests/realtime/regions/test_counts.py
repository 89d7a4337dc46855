"""Viewer counts and presence over two regions' server processes (Daphne, configured by the
environment as a deployment would be), 75 ms apart, on one PostgreSQL: each region's stream and
REST show the viewers of both, a user watching only in the other region is online here, and when
that region dies its viewers leave the total within the presence ttl."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from rest_framework.authtoken.models import Token

from loadtest.privateregions import PrivateRegions
from tests.factories import BroadcastFactory, UserFactory
from tests.realtime.regions.test_servers import app_servers, watch
from tests.realtime.test_two_processes import next_of
from tests.servers import AppServer, http_get

pytestmark = [
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.regions,
    pytest.mark.django_db(transaction=True),
]

HEARTBEAT, GRACE = 1.0, 1.0  # a region's share runs out 2 s after its last


@pytest.fixture
def servers(regions: PrivateRegions) -> Iterator[dict[str, AppServer]]:
    """One Daphne process in ``eu`` and one in ``us``, with short presence timings."""
    timings = {
        "PRESENCE_HEARTBEAT_INTERVAL": str(HEARTBEAT),
        "PRESENCE_GRACE_PERIOD": str(GRACE),
        "PRESENCE_DEBOUNCE": "0.2",
    }
    with app_servers(regions, **timings) as started:
        yield started


async def viewers_become(ws: Any, count: int) -> float:
    """Read ``viewers`` events until one says ``count``; when it came (monotonic)."""
    while (await next_of(ws, "viewers"))["data"]["count"] != count:
        pass
    return time.monotonic()


def get_json(port: int, path: str) -> Any:
    status, body = http_get(f"http://127.0.0.1:{port}{path}")
    assert status == 200, body
    return json.loads(body)


async def test_every_region_counts_the_viewers_of_all_regions(servers, regions):
    users = [await database_sync_to_async(UserFactory)(username=n) for n in ("ann", "bo", "cy")]
    tokens = [(await database_sync_to_async(Token.objects.create)(user=u)).key for u in users]
    broadcast = await database_sync_to_async(BroadcastFactory)(live=True)
    path = f"/ws/broadcasts/{broadcast.pk}/"
    eu, us = servers["eu"].port, servers["us"].port

    async def viewer(port: int, token: str) -> Any:
        ws = await watch(port, path, additional_headers={"Authorization": f"Token {token}"})
        await next_of(ws, "hello")
        return ws

    in_eu = [await viewer(eu, tokens[0]), await viewer(eu, tokens[1])]
    in_us = await viewer(us, tokens[2])
    try:
        # Each region's stream shows both regions' viewers, and so does its REST.
        await asyncio.gather(*(viewers_become(ws, 3) for ws in [*in_eu, in_us]))
        for port in (eu, us):
            assert get_json(port, f"/api/broadcasts/{broadcast.pk}/viewers/") == {"count": 3}
        # cy watches only in us: online in eu too, and eu's studio lists them.
        online = get_json(eu, f"/api/presence/?user_ids={users[2].pk}")
        assert online[str(users[2].pk)]["online"] is True

        # us dies (its process, Redis and NATS server): its share runs out, eu counts 2.
        servers["us"].kill()
        regions.kill("us")
        killed = time.monotonic()
        seen = await asyncio.gather(*(viewers_become(ws, 2) for ws in in_eu))
        # Within the share's ttl, plus a heartbeat for eu to read the count again.
        assert max(seen) - killed < HEARTBEAT + GRACE + HEARTBEAT + 1.0
        assert get_json(eu, f"/api/broadcasts/{broadcast.pk}/viewers/") == {"count": 2}
        online = get_json(eu, f"/api/presence/?user_ids={users[2].pk}")
        assert online[str(users[2].pk)]["online"] is False
    finally:
        for ws in [*in_eu, in_us]:
            await ws.close()
        await asyncio.to_thread(regions.revive, "us")
