"""WebSocket authentication: a DRF token or the session cookie, resolved once at connect."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import Client
from rest_framework.authtoken.models import Token

from realtime.auth import TokenOrSessionAuthMiddleware, token_key
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


class Inner:
    """An application that records what the middleware hands it."""

    def __init__(self) -> None:
        self.scope: dict[str, Any] = {}
        self.send: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scope, self.send = scope, send


async def connect(headers: list[tuple[bytes, bytes]]) -> Inner:
    inner = Inner()

    async def send(message: dict[str, Any]) -> None:
        pass

    await TokenOrSessionAuthMiddleware(inner)({"type": "websocket", "headers": headers}, None, send)
    assert inner.send is send  # not wrapped: no cost per frame
    return inner


@database_sync_to_async
def signed_in_cookie(user: Any) -> bytes:
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()


async def test_a_token_header_signs_in_its_user():
    user = await database_sync_to_async(UserFactory)()
    token = await database_sync_to_async(Token.objects.create)(user=user)
    inner = await connect([(b"authorization", f"Token {token.key}".encode())])
    assert inner.scope["user"] == user


async def test_the_session_cookie_signs_in_its_user():
    user = await database_sync_to_async(UserFactory)()
    cookie = await signed_in_cookie(user)
    inner = await connect([(b"cookie", b"theme=dark; " + cookie)])
    assert inner.scope["user"] == user


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"authorization", b"Token not-a-key")],
        [(b"authorization", b"Bearer abc")],
        [(b"cookie", f"{settings.SESSION_COOKIE_NAME}=nonsense".encode())],
    ],
)
async def test_no_or_unknown_credentials_mean_anonymous(headers):
    inner = await connect(headers)
    assert not inner.scope["user"].is_authenticated


async def test_an_inactive_users_token_is_anonymous():
    user = await database_sync_to_async(UserFactory)(is_active=False)
    token = await database_sync_to_async(Token.objects.create)(user=user)
    inner = await connect([(b"authorization", f"Token {token.key}".encode())])
    assert not inner.scope["user"].is_authenticated


def test_token_key():
    assert token_key("Token abc") == "abc"
    assert token_key("token  abc ") == "abc"
    assert token_key("Token") is None
    assert token_key("Basic abc") is None
