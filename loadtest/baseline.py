"""The tutorial-style design, kept as a benchmark baseline (``loadtest --server baseline``).

Written the way the Channels tutorial writes a chat room: ``AuthMiddlewareStack``, an
``AsyncWebsocketConsumer`` per viewer in a group per broadcast, one ``group_send`` per event
through the channel layer, and ``json.dumps`` in every consumer for every event. Same URL and
same frames (a JSON array per event) as the real stream, so the same load tool measures both.

Events still come from the real publishing path (services -> history store): one bridge per
process takes each event from the hub and ``group_send``s it, as a view would in the tutorial.
Reactions sent over the WebSocket are stored one transaction per message, as a tutorial-style
``receive`` would (so ``--drive page`` works against it too). It is a fixture for measurements
with ONE server process (two processes would each bridge every event to the shared group), it
has no resume and no SSE. Not for production.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.asgi import get_asgi_application
from django.urls import path

django_asgi_app = get_asgi_application()

from livevideo import selectors, services  # noqa: E402
from livevideo.errors import ServiceError  # noqa: E402
from livevideo.models import Broadcast  # noqa: E402
from realtime.auth import TokenOrSessionAuthMiddleware  # noqa: E402
from realtime.protocol import Batch, Event, now_ms  # noqa: E402
from realtime.runtime import get_history, get_hub  # noqa: E402


class GroupBridge:
    """Forwards one topic's events from the hub to its Channels group, in order."""

    def __init__(self, topic: str, group: str) -> None:
        self.topic, self.group = topic, group
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._forward())

    def push(self, batch: Batch) -> bool:
        for event in batch.events:
            self.queue.put_nowait(event)
        return False

    async def _forward(self) -> None:
        layer = get_channel_layer()
        while True:
            event = await self.queue.get()
            message = {"type": event.type, "id": event.id, "ts": event.ts, "data": event.data}
            await layer.group_send(self.group, {"type": "stream.event", "event": message})


_bridges: dict[str, GroupBridge] = {}


async def ensure_bridge(topic: str, group: str) -> None:
    if topic not in _bridges:
        _bridges[topic] = bridge = GroupBridge(topic, group)
        await get_hub().join(topic, bridge)


def _broadcast_detail(broadcast_id: int) -> dict[str, Any] | None:
    broadcast = Broadcast.objects.select_related("broadcaster").filter(pk=broadcast_id).first()
    return selectors.broadcast_data(broadcast) if broadcast else None


def _tap(broadcast_id: int, user: Any, kind: Any) -> ServiceError | None:
    broadcast = Broadcast.objects.get(pk=broadcast_id)
    try:
        services.reaction_create(broadcast=broadcast, user=user, kind=kind)
    except ServiceError as refusal:
        return refusal
    return None


class TutorialConsumer(AsyncWebsocketConsumer):
    """One viewer of ``ws/broadcasts/<id>/``, as the tutorial would write it."""

    async def connect(self) -> None:
        broadcast_id = int(self.scope["url_route"]["kwargs"]["broadcast_id"])
        detail = await database_sync_to_async(_broadcast_detail)(broadcast_id)
        await self.accept()
        if detail is None:
            await self.close(code=4404)
            return
        self.broadcast_id = broadcast_id
        topic = selectors.broadcast_topic(broadcast_id)
        self.group = f"broadcast_{broadcast_id}"
        await ensure_bridge(topic, self.group)
        await self.channel_layer.group_add(self.group, self.channel_name)
        last_id = (await get_history().replay(topic, None)).last_id
        hello = {"broadcast": detail, "last_event_id": last_id}
        await self.send(
            text_data=json.dumps([{"type": "hello", "id": None, "ts": now_ms(), "data": hello}])
        )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """A reaction, as the tutorial would take it: one transaction per message."""
        message = json.loads(text_data or "{}")
        if message.get("type") == "reaction":
            refusal = await database_sync_to_async(_tap)(
                self.broadcast_id, self.scope["user"], message.get("kind")
            )
            if refusal is not None:
                error = {"code": refusal.code, "message": refusal.message}
                event = {"type": "error", "id": None, "ts": now_ms(), "data": error}
                await self.send(text_data=json.dumps([event]))

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def stream_event(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps([message["event"]]))


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(
                # The load tool's driver signs in with a token (the tutorial has sessions only).
                TokenOrSessionAuthMiddleware(
                    URLRouter(
                        [path("ws/broadcasts/<int:broadcast_id>/", TutorialConsumer.as_asgi())]
                    )
                )
            )
        ),
    }
)
