"""WebSocket handshakes from this site's own pages only: the Origin must be the site's origin.

A browser sends ``Origin: scheme://host[:port]`` of the page that opens the socket. It is
accepted when it is exactly the origin the socket was opened on (the ``Host`` header, and the
scheme of the connection, or ``X-Forwarded-Proto`` from a trusted proxy), with that host in
``ALLOWED_HOSTS``, or one of ``CSRF_TRUSTED_ORIGINS``. Anything else (another port, another
scheme, no Origin) is refused before the handshake, as Channels' validator refuses: with a
403 to the upgrade request.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable
from typing import Any

from asgiref.sync import markcoroutinefunction
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http.request import split_domain_port, validate_host

from realtime.clientaddress import is_trusted_proxy
from realtime.headers import scope_headers

DEFAULT_PORTS = {"http": "80", "https": "443"}


class SameOriginValidator:
    """ASGI middleware for the ``websocket`` protocol. It hands back the call of the
    application it lets through instead of awaiting it, so that it keeps no coroutine for the
    life of the connection (see ``realtime.routing``)."""

    def __init__(self, application: Any) -> None:
        self.application = application

    @markcoroutinefunction
    def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return WebsocketDenier()(scope, receive, send)
        return self.application(scope, receive, send)


def origin_allowed(scope: dict[str, Any]) -> bool:
    headers = scope_headers(scope, b"origin", b"host", b"x-forwarded-proto")
    origin = _normalised(headers.get(b"origin", ""))
    if origin is None:
        return False
    if origin in _trusted_origins():
        return True
    host = headers.get(b"host", "").lower()
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    return origin == _normalised(f"{_page_scheme(scope, headers)}://{host}")


def _page_scheme(scope: dict[str, Any], headers: dict[bytes, str]) -> str:
    """The scheme of the pages of the site the socket was opened on."""
    peer = (scope.get("client") or ("", 0))[0] or ""
    forwarded = headers.get(b"x-forwarded-proto", "").strip().lower()
    if forwarded in DEFAULT_PORTS and is_trusted_proxy(peer):
        return forwarded
    return "https" if scope.get("scheme") == "wss" else "http"


@functools.cache
def _trusted_origins() -> frozenset[str | None]:
    return frozenset(_normalised(origin) for origin in settings.CSRF_TRUSTED_ORIGINS)


@receiver(setting_changed)
def _forget_trusted_origins(*, setting: str, **kwargs: object) -> None:
    if setting == "CSRF_TRUSTED_ORIGINS":
        _trusted_origins.cache_clear()


# A site sees few distinct origins; the bound keeps made-up ones from growing it.
@functools.lru_cache(maxsize=256)
def _normalised(origin: str) -> str | None:
    """``scheme://host:port`` with the default port written out, or None if not an origin."""
    scheme, sep, rest = origin.strip().partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in DEFAULT_PORTS or not rest or "/" in rest:
        return None
    domain, port = split_domain_port(rest.lower())
    if not domain:
        return None
    return f"{scheme}://{domain}:{port or DEFAULT_PORTS[scheme]}"
