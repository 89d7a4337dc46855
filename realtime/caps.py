"""How many streams one viewer may hold: per user and per client address, in each process.

A stream (WebSocket or SSE) takes a slot when it is authorised and gives it back when it
ends. Over a cap the WebSocket is closed with ``CLOSE_TOO_MANY_STREAMS`` and SSE answers 429:
docs/protocol.md. The caps are per process (``REALTIME["MAX_STREAMS_PER_USER"]`` and
``["MAX_STREAMS_PER_ADDRESS"]``, 0: no cap): behind a proxy that spreads connections over N
processes a viewer can hold up to N times as many; what that bounds is in docs/operations.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from realtime.clientaddress import scope_client_address
from realtime.conf import option

CLOSE_TOO_MANY_STREAMS = 4429

_per_user: Counter[Any] = Counter()
_per_address: Counter[str] = Counter()


class Slot:
    """One stream's place under the caps; ``release`` is idempotent."""

    __slots__ = ("address", "user_id")

    def __init__(self, user_id: Any, address: str) -> None:
        self.user_id = user_id
        self.address = address
        if user_id is not None:
            _per_user[user_id] += 1
        _per_address[address] += 1

    def release(self) -> None:
        if self.address is None:
            return
        if self.user_id is not None:
            _drop(_per_user, self.user_id)
        _drop(_per_address, self.address)
        self.address = None  # type: ignore[assignment]


def _drop(counter: Counter[Any], key: Any) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]


def take(scope: Mapping[str, Any], user: Any) -> Slot | None:
    """A slot for a stream of ``user`` (None or anonymous: no user cap) on ``scope``'s
    connection, or None when a cap is reached."""
    user_id = user.pk if user is not None and getattr(user, "is_authenticated", False) else None
    address = scope_client_address(scope)
    per_user, per_address = option("MAX_STREAMS_PER_USER"), option("MAX_STREAMS_PER_ADDRESS")
    if user_id is not None and per_user and _per_user[user_id] >= per_user:
        return None
    if per_address and _per_address[address] >= per_address:
        return None
    return Slot(user_id, address)


def reset() -> None:
    """Forget every slot (tests: a fresh process)."""
    _per_user.clear()
    _per_address.clear()
