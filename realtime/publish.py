"""Publishing events to a topic, only after the current transaction commits.

(Interface placeholder: the real-time platform fills this in.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction


def publish(topic: str, event_type: str, data: dict[str, Any], *, recoverable: bool = True) -> None:
    """Publish once the current transaction commits (at once outside one); never blocks."""
    transaction.on_commit(lambda: None)


def publish_latest(topic: str, event_type: str, build: Callable[[], dict[str, Any]]) -> None:
    """Schedule a latest-wins snapshot of ``build()`` for the topic, coalesced per topic."""
    transaction.on_commit(lambda: None)
