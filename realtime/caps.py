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
from realtime.runtime import config, shared

CLOSE_TOO_MANY_STREAMS = 4429


class _StreamCounts:
    """The process's open streams per user and per address (a part of the process's real-time
    state, started afresh when ``REALTIME`` changes)."""

    def __init__(self) -> None:
        self.per_user: Counter[Any] = Counter()
        self.per_address: Counter[str] = Counter()


def _counts() -> _StreamCounts:
    return shared(_StreamCounts, _StreamCounts, setting="REALTIME")


class Slot:
    """One stream's place under the caps; ``release`` is idempotent."""

    __slots__ = ("address", "counts", "user_id")

    def __init__(self, counts: _StreamCounts, user_id: Any, address: str) -> None:
        self.counts = counts
        self.user_id = user_id
        self.address = address
        if user_id is not None:
            counts.per_user[user_id] += 1
        counts.per_address[address] += 1

    def release(self) -> None:
        if self.address is None:
            return
        if self.user_id is not None:
            _drop(self.counts.per_user, self.user_id)
        _drop(self.counts.per_address, self.address)
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
    per_user, per_address = config().max_streams_per_user, config().max_streams_per_address
    counts = _counts()
    if user_id is not None and per_user and counts.per_user[user_id] >= per_user:
        return None
    if per_address and counts.per_address[address] >= per_address:
        return None
    return Slot(counts, user_id, address)
