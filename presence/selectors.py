"""Reads of presence state, for the REST views (sync)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypedDict

from presence.backends import get_store


class UserPresence(TypedDict):
    online: bool
    last_seen: datetime | None


def topic_viewer_count(topic: str) -> int:
    """Concurrent connections on ``topic`` across every process."""
    return topic_viewer_counts([topic])[topic]


def topic_viewer_counts(topics: list[str]) -> dict[str, int]:
    """``topic_viewer_count`` of many topics in one store read."""
    return get_store().viewer_counts(topics)


def users_presence(user_ids: list[int]) -> dict[int, UserPresence]:
    """Online state and last heartbeat of each user (unknown users: offline, never seen)."""
    return {
        uid: {
            "online": state.online,
            "last_seen": datetime.fromtimestamp(state.last_seen, UTC) if state.last_seen else None,
        }
        for uid, state in get_store().users_presence(user_ids).items()
    }
