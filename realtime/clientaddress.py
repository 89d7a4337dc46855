"""Who is asking: the client's address, believed from a proxy only when told to trust it.

Every per-address limit (sign-in, sign-up, comments, reactions, stream connections) keys on
``client_address``. A request that comes straight from a peer not listed in
``settings.TRUSTED_PROXIES`` is that peer, whatever its headers say. From a trusted proxy, the
client is the right-most address in ``X-Forwarded-For`` that is not itself a trusted proxy (the
proxy must set that header, overwriting what the client sent: docs/operations.md).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def _trusted() -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in settings.TRUSTED_PROXIES)


@receiver(setting_changed)
def _forget_trusted(*, setting: str, **kwargs: object) -> None:
    if setting == "TRUSTED_PROXIES":
        _trusted.cache_clear()
        _listed_peer.cache_clear()


def is_trusted_proxy(address: str) -> bool:
    """Whether ``address`` is one of ``settings.TRUSTED_PROXIES``."""
    return bool(_trusted()) and _listed(address)


def _listed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _trusted())


def _peer_is_trusted(peer: str) -> bool:
    """``is_trusted_proxy`` of a connection's peer: asked for every connection, of the same few
    addresses (a proxy's) when there are proxies, so remembered."""
    return bool(_trusted()) and _listed_peer(peer)


# Only peers are remembered: the server names them (a hop is whatever a client wrote).
@functools.lru_cache(maxsize=1024)
def _listed_peer(peer: str) -> bool:
    return _listed(peer)


def client_address(peer: str, forwarded_for: str | None) -> str:
    """The client's address, from the connection's ``peer`` and its ``X-Forwarded-For``."""
    if not _peer_is_trusted(peer):
        return peer  # whatever its headers say
    return _forwarded_client(peer, forwarded_for)


def _forwarded_client(proxy: str, forwarded_for: str | None) -> str:
    """The client a trusted ``proxy`` forwards, by the ``X-Forwarded-For`` it wrote."""
    if not forwarded_for:
        return proxy
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        if not is_trusted_proxy(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return proxy  # not an address: the header was not written by our proxy
    return proxy


def request_client_address(request: Any) -> str:
    """``client_address`` of a Django (or DRF) request."""
    meta = request.META
    return client_address(meta.get("REMOTE_ADDR") or "", meta.get("HTTP_X_FORWARDED_FOR"))


def scope_client_address(scope: Mapping[str, Any]) -> str:
    """``client_address`` of an ASGI connection (WebSocket or HTTP scope)."""
    peer = (scope.get("client") or ("", 0))[0] or ""
    if not _peer_is_trusted(peer):
        return peer  # whatever its headers say (they are not even read)
    return _forwarded_client(peer, _header(scope.get("headers", ()), b"x-forwarded-for"))


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    values = [v.decode("latin-1") for k, v in headers if k.lower() == name]
    return ", ".join(values) or None
