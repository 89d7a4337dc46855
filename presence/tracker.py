"""Connection presence: called by the stream consumers. (Interface placeholder.)"""

from __future__ import annotations

from typing import Any


async def connection_opened(*, topic: str, connection_id: str, user: dict[str, Any] | None) -> None:
    """A viewer connected to ``topic``; ``user`` is ``{id, username, display_name}`` or None."""


async def connection_closed(*, topic: str, connection_id: str, user: dict[str, Any] | None) -> None:
    """That connection is gone."""
