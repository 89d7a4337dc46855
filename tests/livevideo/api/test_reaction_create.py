"""POST /api/broadcasts/<id>/reactions/"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from livevideo import selectors
from livevideo.models import Reaction
from tests.livevideo.api.asserts import assert_error


def url(broadcast) -> str:
    return f"/api/broadcasts/{broadcast.pk}/reactions/"


@pytest.mark.parametrize("persona", ["viewer", "owner", "staff"])
def test_signed_in_users_react_while_live(request, client_for, live, persona) -> None:
    client = client_for(request.getfixturevalue(persona))

    first = client.post(url(live), {"kind": "celebrate"}, format="json")
    client.post(url(live), {"kind": "celebrate"}, format="json")

    assert (first.status_code, first.json()) == (202, {"accepted": True})
    totals = selectors.reaction_totals(broadcast_id=live.pk)
    assert (totals["totals"]["celebrate"], totals["total"]) == (2, 2)


def test_anonymous_must_sign_in(anonymous: APIClient, live) -> None:
    assert_error(anonymous.post(url(live), {"kind": "like"}, format="json"), 401)
    assert not Reaction.objects.exists()


@pytest.mark.parametrize("state", ["scheduled", "ended"])
def test_only_while_live(request, client_for, viewer, state) -> None:
    broadcast = request.getfixturevalue(state)

    assert_error(client_for(viewer).post(url(broadcast), {"kind": "like"}, format="json"), 409)
    assert not Reaction.objects.exists()


@pytest.mark.parametrize("kind", ["dislike", "LIKE", "", None, 1])
def test_unknown_kinds_are_400(client_for, viewer, live, kind) -> None:
    assert_error(client_for(viewer).post(url(live), {"kind": kind}, format="json"), 400, "kind")
    assert not Reaction.objects.exists()


def test_an_unknown_broadcast_is_404(client_for, viewer) -> None:
    response = client_for(viewer).post("/api/broadcasts/424242/reactions/", {"kind": "like"})

    assert_error(response, 404)
