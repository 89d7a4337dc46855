"""GET /api/broadcasts/<id>/"""

from __future__ import annotations

from rest_framework.test import APIClient

from livevideo import services
from livevideo.models import ReactionKind
from tests.factories import CommentFactory
from tests.livevideo.api.asserts import assert_error


def test_the_detail_shape_is_exactly_the_contract(anonymous: APIClient, live, viewer) -> None:
    CommentFactory(broadcast=live)
    CommentFactory(broadcast=live, is_removed=True)
    services.reaction_create(broadcast=live, user=viewer, kind="love")

    body = anonymous.get(f"/api/broadcasts/{live.pk}/").json()

    assert body == {
        "id": live.pk,
        "title": live.title,
        "description": live.description,
        "status": "live",
        "broadcaster": {
            "id": live.broadcaster_id,
            "username": "olive",
            "display_name": "Olive Owner",
        },
        "stream_url": live.stream_url,
        "scheduled_for": None,
        "started_at": live.started_at.isoformat().replace("+00:00", "Z"),
        "ended_at": None,
        "reactions": {"totals": {**dict.fromkeys(ReactionKind.values, 0), "love": 1}, "total": 1},
        "viewers": 0,
        "comments_count": 1,
        "pinned_comment": None,
        "ingest_state": "idle",
        "playback_url": None,
        "thumbnail_url": None,
        "chat_rules": {"slow_mode_seconds": 0, "links_allowed": False, "blocked_words": False},
    }


def test_an_unknown_broadcast_is_json_404(anonymous: APIClient) -> None:
    assert_error(anonymous.get("/api/broadcasts/424242/"), 404)


def test_an_id_beyond_bigint_is_404_not_500(anonymous: APIClient) -> None:
    assert_error(anonymous.get("/api/broadcasts/99999999999999999999/"), 404)
