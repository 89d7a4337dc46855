"""Who is watching a broadcast now: the signed-in viewers present, from the presence store
(``presence.selectors.topic_users_present``: every signed-in user with a connection to the
broadcast's topic, or inside the grace period after one closed, at most
``USERS_PRESENT_LIMIT`` of them). The studio adds anyone the stream's ``presence`` events
announce while it is open. Anonymous viewers are only counted.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from livevideo import selectors, shapes
from livevideo.models import Broadcast
from presence.selectors import topic_users_present


def watching_now(*, broadcast: Broadcast, query: str = "") -> shapes.Watching:
    """``{count, users}``: how many people watch now (anonymous ones included, each person
    once) and the signed-in ones present, by name, filtered by ``query`` (name or username)."""
    present = topic_users_present(selectors.broadcast_topic(broadcast.pk))
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
