"""Reads of presence state, for the REST views and pages (sync), and the stream's ``hello``.

Presence is decoration on a page: while the store is unavailable (Redis restarting) the reads
degrade, and a warning is logged, rather than fail the request. Viewer counts read 0, and users
offline with their last_seen unknown, until the store answers again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TypedDict

from presence.backends import StoreUnavailable, UserState, get_store

logger = logging.getLogger(__name__)

# Who-is-here lists stop at this many users (the most recently seen), so a huge audience costs
# a bounded read.
USERS_PRESENT_LIMIT = 1000


class UserPresence(TypedDict):
    online: bool
    last_seen: datetime | None


def topic_viewer_count(topic: str) -> int:
    """People watching ``topic`` now, across every process: each signed-in user once, however
    many tabs they hold, and anonymous viewers once per client address (docs/presence.md)."""
    return topic_viewer_counts([topic])[topic]


async def atopic_viewer_count(topic: str) -> int:
    """``topic_viewer_count`` for async code (the streams' ``hello``): the store's own async
    read, on the event loop."""
    try:
        return (await get_store().aviewer_counts([topic]))[topic]
    except StoreUnavailable as exc:
        logger.warning("presence store unavailable; viewer counts read 0: %s", exc)
        return 0


def topic_viewer_counts(topics: list[str]) -> dict[str, int]:
    """``topic_viewer_count`` of many topics in one store read."""
    try:
        return get_store().viewer_counts(topics)
    except StoreUnavailable as exc:
        logger.warning("presence store unavailable; viewer counts read 0: %s", exc)
        return dict.fromkeys(topics, 0)


def topic_users_present(topic: str, *, limit: int = USERS_PRESENT_LIMIT) -> set[int]:
    """Ids of the signed-in users on ``topic`` now (or inside their grace period after a close),
    at most ``limit`` of them; none while the store is unavailable."""
    try:
        return get_store().users_present(topic, limit=limit)
    except StoreUnavailable as exc:
        logger.warning("presence store unavailable; nobody listed on a topic: %s", exc)
        return set()


def users_presence(user_ids: list[int]) -> dict[int, UserPresence]:
    """Online state and last heartbeat of each user (unknown users: offline, never seen)."""
    try:
        states = get_store().users_presence(user_ids)
    except StoreUnavailable as exc:
        logger.warning("presence store unavailable; users read offline: %s", exc)
        states = {uid: UserState(online=False, last_seen=None) for uid in user_ids}
    return {
        uid: {
            "online": state.online,
            "last_seen": datetime.fromtimestamp(state.last_seen, UTC) if state.last_seen else None,
        }
        for uid, state in states.items()
    }
