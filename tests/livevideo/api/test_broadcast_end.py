"""POST /api/broadcasts/<id>/end/"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from livevideo.models import Broadcast, BroadcastStatus
from tests.livevideo.api.asserts import assert_error


def end(client: APIClient, broadcast: Broadcast):
    return client.post(f"/api/broadcasts/{broadcast.pk}/end/")


@pytest.mark.parametrize("persona", ["owner", "staff"])
def test_the_broadcaster_or_staff_ends_it(request, client_for, live, persona) -> None:
    response = end(client_for(request.getfixturevalue(persona)), live)

    assert response.status_code == 200
    live.refresh_from_db()
    assert response.json()["status"] == live.status == BroadcastStatus.ENDED
    assert response.json()["ended_at"] == live.ended_at.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize("persona", ["other_broadcaster", "viewer"])
def test_others_are_forbidden(request, client_for, live, persona) -> None:
    assert_error(end(client_for(request.getfixturevalue(persona)), live), 403)
    live.refresh_from_db()
    assert live.status == BroadcastStatus.LIVE


def test_anonymous_must_sign_in(anonymous: APIClient, live) -> None:
    assert_error(end(anonymous, live), 401)


@pytest.mark.parametrize("state", ["scheduled", "ended"])
def test_only_a_live_broadcast_can_end(request, client_for, owner, state) -> None:
    broadcast = request.getfixturevalue(state)

    assert_error(end(client_for(owner), broadcast), 409)
    broadcast.refresh_from_db()
    assert broadcast.status == state
