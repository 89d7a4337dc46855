"""GET /api/broadcasts/<id>/reactions/"""

from __future__ import annotations

from rest_framework.test import APIClient

from livevideo import services
from livevideo.models import ReactionKind
from tests.livevideo.api.asserts import assert_error


def test_totals_count_every_kind(anonymous: APIClient, live, viewer, owner) -> None:
    for user, kind in [(viewer, "like"), (viewer, "like"), (owner, "funny")]:
        services.reaction_create(broadcast=live, user=user, kind=kind)

    body = anonymous.get(f"/api/broadcasts/{live.pk}/reactions/").json()

    assert body == {
        "totals": {**dict.fromkeys(ReactionKind.values, 0), "like": 2, "funny": 1},
        "total": 3,
    }


def test_an_unknown_broadcast_is_404(anonymous: APIClient) -> None:
    assert_error(anonymous.get("/api/broadcasts/424242/reactions/"), 404)
