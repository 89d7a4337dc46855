"""One deployment, two server processes: what is published in one reaches the other's
clients through Redis. Real Daphne processes on the test database, real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from rest_framework.authtoken.models import Token
from websockets.asyncio.client import connect

from tests.factories import BroadcastFactory, UserFactory
from tests.servers import AppServer, database_url

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture(params=["redis_url", "redis_cluster_url"])
def deployment(request: Any) -> Iterator[list[int]]:
    """Two Daphne processes of the app: one deployment (same database, same Redis: one
    server, or a Redis Cluster which ``REDIS_URL`` names one node of)."""
    env = {
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": request.getfixturevalue(request.param),
    }
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(2):
            server = AppServer(env)
            stack.callback(server.stop)
            ports.append(server.port)
        yield ports


def post_comment(port: int, broadcast_id: int, token: str, text: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/broadcasts/{broadcast_id}/comments/",
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.loads(response.read())


async def next_of(ws: Any, event_type: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            for event in json.loads(await ws.recv()):
                if event["type"] == event_type:
                    return event


class SSE:
    """A bare-bones SSE reader over a raw socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, path: str) -> SSE:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        await writer.drain()
        status = await reader.readline()
        assert b" 200 " in status, status
        while (await reader.readline()).strip():
            pass  # headers
        return cls(reader, writer)

    async def next_of(self, event_type: str) -> tuple[str | None, dict[str, Any]]:
        """The next event of ``event_type`` and the ``id:`` of its message."""
        message_id = None
        async with asyncio.timeout(10):
            while True:
                line = (await self.reader.readline()).decode()
                if line.startswith("id: "):
                    message_id = line[4:].strip()
                elif line.startswith("data: "):
                    for event in json.loads(line[6:]):
                        if event["type"] == event_type:
                            return message_id, event
                elif not line.strip():
                    message_id = None

    def close(self) -> None:
        self.writer.close()


async def test_a_comment_posted_to_one_process_reaches_the_other_process_clients(deployment):
    viewer = await database_sync_to_async(UserFactory)(username="vic")
    token = (await database_sync_to_async(Token.objects.create)(user=viewer)).key
    broadcast = await database_sync_to_async(BroadcastFactory)(live=True)
    path = f"/ws/broadcasts/{broadcast.pk}/"
    a, b = deployment

    ws_b = await connect(f"ws://127.0.0.1:{b}{path}", origin=f"http://127.0.0.1:{b}")
    sse_b = await SSE.open(b, f"/sse/broadcasts/{broadcast.pk}/")
    ws_a = await connect(
        f"ws://127.0.0.1:{a}{path}",
        origin=f"http://127.0.0.1:{a}",
        additional_headers={"Authorization": f"Token {token}"},
    )
    try:
        assert (await next_of(ws_b, "hello"))["data"]["broadcast"]["id"] == broadcast.pk
        assert (await sse_b.next_of("hello"))[1]["data"]["last_event_id"] == 0
        await next_of(ws_a, "hello")

        posted = await asyncio.to_thread(post_comment, a, broadcast.pk, token, "from A")
        created = await next_of(ws_b, "comment.created")
        assert created["data"] == posted
        message_id, over_sse = await sse_b.next_of("comment.created")
        assert (message_id, over_sse["data"]) == (str(created["id"]), posted)

        await ws_a.send(json.dumps({"type": "comment", "text": "over A's socket"}))
        second = await next_of(ws_b, "comment.created")
        assert (second["id"], second["data"]["text"]) == (created["id"] + 1, "over A's socket")
        await ws_a.send(json.dumps({"type": "reaction", "kind": "love"}))
        assert (await next_of(ws_b, "reactions"))["data"]["totals"]["love"] == 1
    finally:
        await ws_a.close()
        await ws_b.close()
        sse_b.close()

    # A client of B that missed events resumes from B's view of the shared history.
    async with connect(
        f"ws://127.0.0.1:{b}{path}?last_event_id={created['id']}", origin=f"http://127.0.0.1:{b}"
    ) as again:
        hello, *replay = json.loads(await again.recv())
        assert hello["data"]["last_event_id"] == second["id"]
        assert [(e["type"], e["id"]) for e in replay] == [("comment.created", second["id"])]
