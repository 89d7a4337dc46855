"""GET /api/broadcasts/<id>/viewers/"""

from __future__ import annotations

from rest_framework.test import APIClient

from livevideo import selectors
from presence.backends import PresenceConnection, PresenceStore
from tests.livevideo.api.asserts import assert_error


def test_the_count_is_the_people_watching_this_broadcast(
    anonymous: APIClient, live, scheduled, viewer, presence_store: PresenceStore
) -> None:
    topic = selectors.broadcast_topic(live.pk)
    presence_store.heartbeat(
        [
            PresenceConnection(topic, "a", viewer.pk, "203.0.113.5"),  # two tabs: one viewer
            PresenceConnection(topic, "b", viewer.pk, "198.51.100.7"),
            PresenceConnection(topic, "c", None, "203.0.113.5"),  # one anonymous address
            PresenceConnection(topic, "d", None, "203.0.113.5"),
            PresenceConnection(topic, "e", None, "2001:db8::1"),
            PresenceConnection(selectors.broadcast_topic(scheduled.pk), "f"),
        ]
    )

    assert anonymous.get(f"/api/broadcasts/{live.pk}/viewers/").json() == {"count": 3}
    assert anonymous.get(f"/api/broadcasts/{live.pk}/").json()["viewers"] == 3


def test_no_viewers_is_zero(anonymous: APIClient, live, presence_store: PresenceStore) -> None:
    assert anonymous.get(f"/api/broadcasts/{live.pk}/viewers/").json() == {"count": 0}


def test_an_unknown_broadcast_is_404(anonymous: APIClient) -> None:
    assert_error(anonymous.get("/api/broadcasts/424242/viewers/"), 404)
