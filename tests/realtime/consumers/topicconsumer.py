"""The consumers' tests' own ``StreamConsumer``, routed at ``t/<name>/``, and a WebSocket
client of it."""

from __future__ import annotations

import asyncio
from typing import Any

from django.urls import path

from realtime.consumers import ClientError, StreamConsumer
from realtime.publish import publish
from realtime.routing import URLRouter
from tests.realtime.streamtools import WSClient


class TopicConsumer(StreamConsumer):
    """``t/<name>/`` watches ``test.<name>``; "missing" does not exist, "secret" is refused.
    A "slow" message is answered when ``release`` is set: an error, or nothing."""

    release: asyncio.Event

    client_message_types = ("shout", "fail", "slow")
    concurrent_message_types = ("slow",)
    max_concurrent = 2
    opened: list[str] = []
    closed: list[str] = []

    async def get_topic(self) -> str | None:
        name = self.route_kwargs["name"]
        return None if name == "missing" else f"test.{name}"

    async def authorize(self, topic: str) -> bool:
        return topic != "test.secret"

    async def get_hello_data(self) -> dict[str, Any]:
        return {"topic": self.connection.topic}  # type: ignore[union-attr]

    async def stream_opened(self) -> None:
        self.opened.append(self.connection.id)  # type: ignore[union-attr]

    async def stream_closed(self) -> None:
        self.closed.append(self.connection.id)  # type: ignore[union-attr]

    async def receive_shout(self, message: dict[str, Any]) -> None:
        if not isinstance(message.get("text"), str):
            raise ClientError("invalid", "text must be a string")
        publish(self.connection.topic, "shouted", {"text": message["text"]})  # type: ignore[union-attr]

    async def receive_fail(self, message: dict[str, Any]) -> None:
        raise RuntimeError("a bug")

    async def receive_slow(self, message: dict[str, Any]) -> None:
        await self.release.wait()
        if message.get("refuse"):
            raise ClientError("conflict", "refused after a while")


application = URLRouter([path("t/<str:name>/", TopicConsumer.as_asgi())])


def client(name: str, query: str = "", app: Any = application) -> WSClient:
    return WSClient(f"/t/{name}/{query}", application=app)
