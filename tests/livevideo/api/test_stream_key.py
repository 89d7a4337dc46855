"""POST /api/broadcasts/<id>/stream-key/ and who sees the ingest URL and stream key."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from livevideo.models import Broadcast
from tests.livevideo.api.asserts import assert_error
from tests.livevideo.api.conftest import ClientFor


def test_the_broadcaster_rotates_the_key_and_sees_the_new_one(
    client_for: ClientFor, owner, scheduled: Broadcast
) -> None:
    old = scheduled.stream_key

    response = client_for(owner).post(f"/api/broadcasts/{scheduled.pk}/stream-key/")

    assert response.status_code == 200
    scheduled.refresh_from_db()
    assert scheduled.stream_key != old
    assert response.json()["stream_key"] == scheduled.stream_key
    assert response.json()["ingest_url"] == "rtmp://127.0.0.1:1935/live"


def test_staff_rotate_any_broadcasts_key(client_for: ClientFor, staff, live: Broadcast) -> None:
    old = live.stream_key

    assert client_for(staff).post(f"/api/broadcasts/{live.pk}/stream-key/").status_code == 200
    live.refresh_from_db()
    assert live.stream_key != old


@pytest.mark.parametrize("persona", ["viewer", "other_broadcaster"])
def test_others_may_not_rotate(
    request, client_for: ClientFor, persona: str, scheduled: Broadcast
) -> None:
    old = scheduled.stream_key
    client = client_for(request.getfixturevalue(persona))

    assert_error(client.post(f"/api/broadcasts/{scheduled.pk}/stream-key/"), 403)
    scheduled.refresh_from_db()
    assert scheduled.stream_key == old


def test_anonymous_may_not_rotate(anonymous: APIClient, scheduled: Broadcast) -> None:
    assert_error(anonymous.post(f"/api/broadcasts/{scheduled.pk}/stream-key/"), 401)


def test_an_unknown_broadcast_is_404(client_for: ClientFor, staff) -> None:
    assert_error(client_for(staff).post("/api/broadcasts/424242/stream-key/"), 404)


@pytest.mark.parametrize("persona", ["viewer", "other_broadcaster"])
def test_the_key_is_hidden_from_everyone_else(
    request, client_for: ClientFor, persona: str, live: Broadcast
) -> None:
    client = client_for(request.getfixturevalue(persona))

    detail = client.get(f"/api/broadcasts/{live.pk}/")
    listing = client.get("/api/broadcasts/")

    for response in (detail, listing):
        assert response.status_code == 200
        assert live.stream_key not in response.content.decode()
    assert "stream_key" not in detail.json()
    assert "ingest_url" not in detail.json()


def test_the_key_is_in_no_page_a_viewer_sees(client, live: Broadcast) -> None:
    for url in ("/", f"/broadcasts/{live.pk}/"):
        page = client.get(url)
        assert page.status_code == 200
        assert live.stream_key not in page.content.decode()


def test_the_broadcaster_sees_the_key_in_the_detail(
    client_for: ClientFor, owner, live: Broadcast
) -> None:
    body = client_for(owner).get(f"/api/broadcasts/{live.pk}/").json()

    assert body["stream_key"] == live.stream_key
