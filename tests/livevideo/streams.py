"""Watching a broadcast's stream over WebSocket in tests: who the client is (a token or a
session cookie), and waiting for the events a test expects."""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.test import Client
from rest_framework.authtoken.models import Token

from livevideo.models import Broadcast
from tests.realtime.streamtools import WSClient


def token_of(user: Any) -> list[tuple[bytes, bytes]]:
    token, _ = Token.objects.get_or_create(user=user)
    return [(b"authorization", f"Token {token.key}".encode())]


def session_of(user: Any) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    name = django_settings.SESSION_COOKIE_NAME
    return [(b"cookie", f"{name}={client.cookies[name].value}".encode())]


def watch(broadcast: Broadcast, query: str = "", headers: Any = None) -> WSClient:
    return WSClient(f"/ws/broadcasts/{broadcast.pk}/{query}", headers=headers)


async def next_of(ws: WSClient, event_type: str, wait: float = 5) -> dict[str, Any]:
    """The next event of ``event_type``, skipping others."""
    events = await ws.receive_until(lambda got: bool(got) and got[-1]["type"] == event_type, wait)
    return events[-1]


async def recoverable(ws: WSClient, count: int) -> list[dict[str, Any]]:
    """The next ``count`` events that have ids, skipping snapshots."""
    events = await ws.receive_until(lambda got: sum(e["id"] is not None for e in got) >= count, 5)
    return [e for e in events if e["id"] is not None]
