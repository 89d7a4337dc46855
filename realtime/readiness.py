"""Parts of the platform that know they are not working right now, for ``/readyz``.

The Redis pub/sub reader reports itself here while it is reconnecting: until it has
subscribed again, this process's viewers get no events, so it should get no new ones.
"""

from __future__ import annotations

_failing: set[str] = set()


def failing(part: str) -> None:
    """``part`` is not working (until ``recovered``)."""
    _failing.add(part)


def recovered(part: str) -> None:
    _failing.discard(part)


def is_failing(part: str) -> bool:
    return part in _failing
