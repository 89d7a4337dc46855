"""Reads of presence state. (Interface placeholder: the presence platform fills this in.)"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict


class UserPresence(TypedDict):
    online: bool
    last_seen: datetime | None


def topic_viewer_count(topic: str) -> int:
    """Concurrent connections on ``topic`` across every process."""
    return 0


def users_presence(user_ids: list[int]) -> dict[int, UserPresence]:
    """Online state and last heartbeat of each user (unknown users: offline, never seen)."""
    return {uid: {"online": False, "last_seen": None} for uid in user_ids}
