"""POST /api/broadcasts/<id>/start/"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from livevideo.models import Broadcast, BroadcastStatus
from tests.livevideo.api.asserts import assert_error


def start(client: APIClient, broadcast: Broadcast):
    return client.post(f"/api/broadcasts/{broadcast.pk}/start/")


@pytest.mark.parametrize("persona", ["owner", "staff"])
def test_the_broadcaster_or_staff_goes_live(request, client_for, scheduled, persona) -> None:
    response = start(client_for(request.getfixturevalue(persona)), scheduled)

    assert response.status_code == 200
    body = response.json()
    scheduled.refresh_from_db()
    assert body["status"] == scheduled.status == BroadcastStatus.LIVE
    assert body["started_at"] == scheduled.started_at.isoformat().replace("+00:00", "Z")
    assert set(body) >= {"broadcaster", "reactions", "viewers", "comments_count"}


@pytest.mark.parametrize("persona", ["other_broadcaster", "viewer"])
def test_others_are_forbidden(request, client_for, scheduled, persona) -> None:
    assert_error(start(client_for(request.getfixturevalue(persona)), scheduled), 403)
    scheduled.refresh_from_db()
    assert scheduled.status == BroadcastStatus.SCHEDULED


def test_anonymous_must_sign_in(anonymous: APIClient, scheduled) -> None:
    assert_error(start(anonymous, scheduled), 401)


@pytest.mark.parametrize("state", ["live", "ended"])
def test_only_a_scheduled_broadcast_can_start(request, client_for, owner, state) -> None:
    broadcast = request.getfixturevalue(state)

    assert_error(start(client_for(owner), broadcast), 409)
    broadcast.refresh_from_db()
    assert broadcast.status == state


def test_an_unknown_broadcast_is_404(client_for, owner) -> None:
    assert_error(client_for(owner).post("/api/broadcasts/424242/start/"), 404)
