"""Who is watching a broadcast now: the signed-in viewers present, from the presence store.

The store answers "which of these users are on this topic", so the candidates are the people
the broadcast knows of (commenters, recent reactors, moderators); the studio adds anyone the
stream's ``presence`` events announce while it is open. Anonymous viewers are only counted.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from livevideo import selectors
from livevideo.models import Broadcast, BroadcastModerator, Comment, Reaction
from presence.backends import StoreUnavailable, get_store

logger = logging.getLogger(__name__)
MAX_CANDIDATES = 5000
RECENT_REACTIONS = timedelta(minutes=30)


def _candidates(broadcast: Broadcast) -> set[int]:
    ids = set(
        Comment.objects.filter(broadcast=broadcast)
        .order_by()
        .values_list("author_id", flat=True)
        .distinct()[:MAX_CANDIDATES]
    )
    since = timezone.now() - RECENT_REACTIONS
    ids |= set(
        Reaction.objects.filter(broadcast=broadcast, created_at__gte=since)
        .order_by()
        .values_list("user_id", flat=True)
        .distinct()[:MAX_CANDIDATES]
    )
    ids |= set(
        BroadcastModerator.objects.filter(broadcast=broadcast).values_list("user_id", flat=True)
    )
    return ids


def watching_now(*, broadcast: Broadcast, query: str = "") -> dict[str, Any]:
    """``{count, users}``: every viewer connected now (anonymous ones included) and the
    signed-in ones known to be present, by name, filtered by ``query`` (name or username)."""
    topic = selectors.broadcast_topic(broadcast.pk)
    try:
        present = get_store().users_on_topic(topic, _candidates(broadcast))
    except StoreUnavailable as exc:
        logger.warning("presence store unavailable; nobody listed as watching: %s", exc)
        present = set()
    present.discard(broadcast.broadcaster_id)  # the broadcaster is not a viewer
    users = get_user_model().objects.filter(pk__in=present).order_by("first_name", "username")
    data = [selectors.user_data(u) for u in users]
    needle = query.strip().lower()
    if needle:
        data = [
            u
            for u in data
            if needle in u["username"].lower() or needle in u["display_name"].lower()
        ]
    return {"count": selectors.viewer_count(broadcast_id=broadcast.pk), "users": data}
