"""Stream authentication: ``Authorization: Token <key>`` (DRF authtoken), or the session
cookie.

The user is resolved once per connection: when a WebSocket connects (and put in
``scope["user"]``), or when an SSE request arrives (``realtime.sse``). Unlike Channels'
``AuthMiddlewareStack`` this does not wrap ``send`` (which costs every frame of every
connection) and keeps no lazy session in the scope: the stream never writes the session. A
missing or unknown credential gives ``AnonymousUser``: anyone may watch, and what needs a user
answers ``forbidden``.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from types import SimpleNamespace
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import parse_cookie

from realtime.headers import scope_headers


def token_key(authorization: str) -> str | None:
    """The key of an ``Authorization: Token <key>`` header value, else None."""
    scheme, _, key = authorization.strip().partition(" ")
    key = key.strip()
    return key if scheme.lower() == "token" and key else None


def user_for_token(key: str) -> AbstractBaseUser | AnonymousUser:
    """The active user a DRF token belongs to (AnonymousUser for an unknown key)."""
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


def user_for_session(session_key: str) -> AbstractBaseUser | AnonymousUser:
    """The user a session cookie belongs to, checked as Django checks it for a request."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return get_user(SimpleNamespace(session=store))  # type: ignore[arg-type]


async def user_from_headers(headers: Mapping[str, str]) -> AbstractBaseUser | AnonymousUser:
    """The user of a connection (``headers`` by lower-case name, or Django's request
    headers): its token when it sends one, else its session cookie.

    A connection with neither is anonymous without a trip to the database thread (most
    viewers of a big broadcast: under a reconnect storm that hop is the queue).
    """
    key = token_key(headers.get("authorization", ""))
    if key is not None:
        return await database_sync_to_async(user_for_token)(key)
    session_key = parse_cookie(headers.get("cookie", "")).get(settings.SESSION_COOKIE_NAME)
    if session_key:
        return await database_sync_to_async(user_for_session)(session_key)
    return AnonymousUser()


class TokenOrSessionAuthMiddleware:
    """ASGI middleware for WebSocket routes: sets ``scope["user"]`` once at connect."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        # Nothing but ``scope`` stays in this frame, which lives as long as the connection.
        # The user is set on the server's own scope rather than a copy of it (as ASGI advises
        # middleware to do): a copy would be held for as long as the connection too, and only
        # this one key, which the server never reads, "leaks upstream".
        scope["user"] = await user_from_headers(_credentials(scope))
        return await self.inner(scope, receive, send)


def _credentials(scope: dict[str, Any]) -> dict[str, str]:
    """The scope's headers that may carry credentials, by lower-case name."""
    found = scope_headers(scope, b"authorization", b"cookie")
    return {name.decode(): value for name, value in found.items()}
