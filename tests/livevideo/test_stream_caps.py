"""Stream connection caps (issue 15, item 4): per user and per client address, a clear
refusal (WebSocket close 4429, SSE 429), and the slot back when a stream ends."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from realtime.caps import CLOSE_TOO_MANY_STREAMS
from tests.factories import BroadcastFactory, UserFactory
from tests.livevideo.streams import token_of
from tests.realtime.streamtools import SSEClient, WSClient, realtime_settings

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_realtime")]


@pytest.fixture
def broadcast(db: None) -> Any:
    return BroadcastFactory(live=True)


def ws(broadcast: Any, *, address: str = "203.0.113.7", headers: Any = None) -> WSClient:
    client = WSClient(f"/ws/broadcasts/{broadcast.pk}/", headers=headers)
    client.communicator.scope["client"] = (address, 40000)
    return client


async def refused(client: WSClient) -> int:
    connected, code = await client.communicator.connect()
    if not connected:
        return code
    return await client.closed_with()


async def test_one_user_holds_at_most_the_cap_of_websockets(broadcast, settings):
    realtime_settings(settings, MAX_STREAMS_PER_USER=3)
    headers = await database_sync_to_async(lambda: token_of(UserFactory()))()
    held = [ws(broadcast, address=f"198.51.100.{i}", headers=headers) for i in range(3)]
    for client in held:
        assert (await client.connect())[0]["type"] == "hello"
    assert await refused(ws(broadcast, headers=headers)) == CLOSE_TOO_MANY_STREAMS
    await held[0].close()
    again = ws(broadcast, headers=headers)
    assert (await again.connect())[0]["type"] == "hello"  # the slot came back
    for client in [*held[1:], again]:
        await client.close()


async def test_one_address_holds_at_most_the_cap_of_anonymous_streams(broadcast, settings):
    realtime_settings(settings, MAX_STREAMS_PER_ADDRESS=2)
    held = [ws(broadcast) for _ in range(2)]
    for client in held:
        await client.connect()
    assert await refused(ws(broadcast)) == CLOSE_TOO_MANY_STREAMS
    other = ws(broadcast, address="198.51.100.9")
    assert (await other.connect())[0]["type"] == "hello"
    sse = SSEClient(f"/sse/broadcasts/{broadcast.pk}/")
    sse.communicator.scope["client"] = ("203.0.113.7", 40001)
    assert await sse.open() == 429
    assert b"Too many open streams" in sse.body
    for client in [*held, other]:
        await client.close()


async def test_sse_streams_count_and_give_their_slot_back(broadcast, settings):
    realtime_settings(settings, MAX_STREAMS_PER_ADDRESS=1)
    first = SSEClient(f"/sse/broadcasts/{broadcast.pk}/")
    assert await first.open() == 200
    second = SSEClient(f"/sse/broadcasts/{broadcast.pk}/")
    assert await second.open() == 429
    await first.close()
    third = SSEClient(f"/sse/broadcasts/{broadcast.pk}/")
    assert await third.open() == 200
    await third.close()
