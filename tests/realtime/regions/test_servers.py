"""Two regions' server processes (Daphne, configured by the environment as a deployment
would be) on one PostgreSQL, each on its region's Redis and NATS server, 75 ms apart: a
comment posted in one region reaches the other's viewers with the same id, a comment sent over
the other region's socket is numbered by the broadcast's home, and a viewer who moves resumes
there without a gap; when the other region dies, its viewers resume in the home."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from rest_framework.authtoken.models import Token
from websockets.asyncio.client import connect

from loadtest.privateregions import PrivateRegions
from tests.factories import BroadcastFactory, UserFactory
from tests.realtime.test_two_processes import next_of, post_comment
from tests.servers import AppServer, database_url

pytestmark = [
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.regions,
    pytest.mark.django_db(transaction=True),
]


@contextlib.contextmanager
def app_servers(regions: PrivateRegions, **env: str) -> Iterator[dict[str, AppServer]]:
    """One Daphne process in ``eu`` (every broadcast's home) and one in ``us``, on the test
    database, with ``env`` besides."""
    with contextlib.ExitStack() as stack:
        started = {}
        for name in ("eu", "us"):
            database = database_url(connection.settings_dict)
            server = AppServer({"DATABASE_URL": database, **regions.app_env(name), **env})
            stack.callback(server.stop)
            started[name] = server
        yield started


@pytest.fixture
def servers(regions: PrivateRegions) -> Iterator[dict[str, AppServer]]:
    with app_servers(regions) as started:
        yield started


async def watch(port: int, path: str, **options: Any) -> Any:
    url, origin = f"ws://127.0.0.1:{port}{path}", f"http://127.0.0.1:{port}"
    return await connect(url, origin=origin, **options)


async def test_a_broadcast_watched_in_two_regions(servers, regions):
    viewer = await database_sync_to_async(UserFactory)(username="vic")
    token = (await database_sync_to_async(Token.objects.create)(user=viewer)).key
    broadcast = await database_sync_to_async(BroadcastFactory)(live=True)
    path = f"/ws/broadcasts/{broadcast.pk}/"
    eu, us = servers["eu"].port, servers["us"].port

    in_eu = await watch(eu, path)
    in_us = await watch(us, path, additional_headers={"Authorization": f"Token {token}"})
    try:
        await next_of(in_eu, "hello")
        await next_of(in_us, "hello")
        await asyncio.sleep(3 * regions.delay)  # us's interest in the broadcast reaches eu

        posted = await asyncio.to_thread(post_comment, eu, broadcast.pk, token, "from eu")
        first = await next_of(in_us, "comment.created")
        assert first == await next_of(in_eu, "comment.created")
        assert first["data"] == posted

        await in_us.send(json.dumps({"type": "comment", "text": "over us's socket"}))
        second = await next_of(in_eu, "comment.created")
        assert (second["id"], second["data"]["text"]) == (first["id"] + 1, "over us's socket")
        assert await next_of(in_us, "comment.created") == second
    finally:
        await in_eu.close()
        await in_us.close()

    # A viewer of eu who saw the first comment moves to us, and misses nothing.
    async with await watch(us, f"{path}?last_event_id={first['id']}") as moved:
        hello, *replay = json.loads(await moved.recv())
        assert hello["data"]["last_event_id"] == second["id"]
        assert [(e["type"], e["id"]) for e in replay] == [("comment.created", second["id"])]

    # The us region dies (its process, Redis and NATS server): its viewers come back through
    # eu and resume there, and the broadcast goes on.
    servers["us"].kill()
    regions.kill("us")
    try:
        third = await asyncio.to_thread(post_comment, eu, broadcast.pk, token, "us is down")
        async with await watch(eu, f"{path}?last_event_id={second['id']}") as back:
            hello, *replay = json.loads(await back.recv())
            assert [(e["id"], e["data"]) for e in replay] == [(second["id"] + 1, third)]
    finally:
        await asyncio.to_thread(regions.revive, "us")


async def recoverable_until(ws: Any, event_type: str) -> list[tuple[str, int]]:
    """The resets and events with ids a client gets, up to the first of ``event_type``."""
    got: list[tuple[str, int]] = []
    async with asyncio.timeout(10):
        while not got or got[-1][0] != event_type:
            for event in json.loads(await ws.recv()):
                if event["type"] == "reset":
                    got.append(("reset", event["data"]["last_event_id"]))
                elif event["id"] is not None:
                    got.append((event["type"], event["id"]))
    return got


async def test_the_home_region_killed_mid_broadcast(servers, regions):
    """eu (every broadcast's home) dies: a comment posted in us streams to us's viewers (us
    numbers the broadcast now, in new ids: they refetch once), and eu's viewers who come to
    us resume without a gap (a reset: their ids are of eu's lineage)."""
    viewer = await database_sync_to_async(UserFactory)(username="val")
    token = (await database_sync_to_async(Token.objects.create)(user=viewer)).key
    broadcast = await database_sync_to_async(BroadcastFactory)(live=True)
    path = f"/ws/broadcasts/{broadcast.pk}/"
    eu, us = servers["eu"].port, servers["us"].port

    async with await watch(us, path) as in_us:
        await next_of(in_us, "hello")
        await asyncio.sleep(3 * regions.delay)  # us's interest in the broadcast reaches eu
        await asyncio.to_thread(post_comment, eu, broadcast.pk, token, "from eu")
        first = await next_of(in_us, "comment.created")

        servers["eu"].kill()
        regions.kill("eu")
        try:
            await asyncio.sleep(3 * regions.delay)  # us's gateway sees eu go
            posted = await asyncio.to_thread(post_comment, us, broadcast.pk, token, "eu is down")
            got = await recoverable_until(in_us, "comment.created")
            [(_, epoch), (_, second_id)] = got
            assert got == [("reset", epoch), ("comment.created", epoch + 1)]
            assert epoch > first["id"]

            # A viewer of eu who saw the first comment comes to us: told to refetch.
            async with await watch(us, f"{path}?last_event_id={first['id']}") as moved:
                hello, *replay = json.loads(await moved.recv())
                assert hello["data"]["last_event_id"] == second_id
                assert [e["type"] for e in replay] == ["reset"]
            # One who saw us's comment resumes with nothing missed, nothing twice.
            async with await watch(us, f"{path}?last_event_id={second_id}") as fresh:
                hello, *replay = json.loads(await fresh.recv())
                assert (hello["data"]["last_event_id"], replay) == (second_id, [])
            assert posted["text"] == "eu is down"
        finally:
            await asyncio.to_thread(regions.revive, "eu")
