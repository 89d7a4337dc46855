"""Reaction totals over two regions' server processes (Daphne, configured by the environment as
a deployment would be), 75 ms apart, on one PostgreSQL. Both regions store taps, and each
announces the totals it reads after storing them; one region's totals reach the other a link's
delay later, so they may come after that region's own, newer ones. No viewer goes back to
them: every viewer, in either region, ends on the newest totals, those REST shows."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from rest_framework.authtoken.models import Token

from loadtest.privateregions import PrivateRegions
from tests.factories import BroadcastFactory, UserFactory
from tests.realtime.regions.test_counts import get_json
from tests.realtime.regions.test_servers import app_servers, watch
from tests.servers import AppServer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.regions,
    pytest.mark.django_db(transaction=True),
]

ROUNDS = 5
TAP = json.dumps({"type": "reaction", "kind": "like"})


@pytest.fixture
def servers(regions: PrivateRegions) -> Iterator[dict[str, AppServer]]:
    """One Daphne process in ``eu`` and one in ``us``, which hand on totals as soon as they
    read them: a region's own totals reach its viewers well before the link's delay is over."""
    fast = {"REALTIME_FLUSH_INTERVAL": "0", "REALTIME_SNAPSHOT_INTERVAL": "0.05"}
    with app_servers(regions, **fast) as started:
        yield started


class Totals:
    """The reaction totals a viewer is handed, in order, from its ``hello`` on."""

    def __init__(self, ws: Any) -> None:
        self.seen: list[int] = []
        self._reader = asyncio.create_task(self._read(ws))

    async def _read(self, ws: Any) -> None:
        async for frame in ws:
            for event in json.loads(frame):
                if event["type"] == "hello":
                    self.seen.append(event["data"]["broadcast"]["reactions"]["total"])
                elif event["type"] == "reactions":
                    self.seen.append(event["data"]["total"])

    async def reach(self, total: int) -> None:
        """Wait until the newest totals handed on are ``total`` or more."""
        async with asyncio.timeout(5):
            while not self.seen or self.seen[-1] < total:  # noqa: ASYNC110
                await asyncio.sleep(0.005)

    async def stop(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


async def signed_in(port: int, path: str, username: str) -> Any:
    user = await database_sync_to_async(UserFactory)(username=username)
    token = (await database_sync_to_async(Token.objects.create)(user=user)).key
    return await watch(port, path, additional_headers={"Authorization": f"Token {token}"})


async def test_every_viewer_ends_on_the_newest_totals(servers, regions):
    broadcast = await database_sync_to_async(BroadcastFactory)(live=True)
    path = f"/ws/broadcasts/{broadcast.pk}/"
    eu_ws = await signed_in(servers["eu"].port, path, "ann")
    us_ws = await signed_in(servers["us"].port, path, "bo")
    eu_viewer, us_viewer = Totals(eu_ws), Totals(us_ws)
    try:
        await eu_viewer.reach(0)
        await us_viewer.reach(0)
        await asyncio.sleep(3 * regions.delay)  # each region's interest reaches the other
        total = 0
        for _ in range(ROUNDS):
            # eu stores a tap and announces the totals it reads; as soon as its own viewer has
            # them, us stores one and reads both: eu's older totals reach us after us's own.
            await eu_ws.send(TAP)
            total += 1
            await eu_viewer.reach(total)
            await us_ws.send(TAP)
            total += 1
            await us_viewer.reach(total)
            await asyncio.sleep(5 * regions.delay)  # eu's totals have crossed by now
            for viewer in (eu_viewer, us_viewer):
                assert viewer.seen[-1] == total
                assert viewer.seen == sorted(viewer.seen)  # never back, not even for a moment
        for server in servers.values():
            api = f"/api/broadcasts/{broadcast.pk}/reactions/"
            assert (await asyncio.to_thread(get_json, server.port, api))["total"] == total
    finally:
        for viewer in (eu_viewer, us_viewer):
            await viewer.stop()
        await eu_ws.close()
        await us_ws.close()
