"""POST /api/broadcasts/"""

from __future__ import annotations

from rest_framework.test import APIClient

from livevideo.models import Broadcast, ReactionKind
from tests.livevideo.api.asserts import assert_error

URL = "/api/broadcasts/"


def test_a_broadcaster_becomes_the_broadcasts_broadcaster(client_for, owner) -> None:
    response = client_for(owner).post(
        URL,
        {
            "title": "  Launch day  ",
            "description": "We ship.",
            "stream_url": "https://cdn.example.com/a.m3u8",
            "scheduled_for": "2030-05-01T12:00:00+02:00",
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    broadcast = Broadcast.objects.get()
    assert body["id"] == broadcast.pk
    assert broadcast.broadcaster == owner
    assert body["title"] == "Launch day"
    assert body["status"] == "scheduled"
    assert body["scheduled_for"] == "2030-05-01T10:00:00Z"
    assert body["broadcaster"] == {
        "id": owner.pk,
        "username": "olive",
        "display_name": "Olive Owner",
    }
    assert body["reactions"] == {"totals": dict.fromkeys(ReactionKind.values, 0), "total": 0}


def test_only_the_title_is_required(client_for, owner) -> None:
    body = client_for(owner).post(URL, {"title": "Hi"}, format="json").json()

    assert (body["description"], body["stream_url"], body["scheduled_for"]) == ("", "", None)


def test_a_plain_viewer_may_not_broadcast(client_for, viewer) -> None:
    response = client_for(viewer).post(URL, {"title": "Hi"}, format="json")

    assert "broadcasters" in assert_error(response, 403)["detail"]
    assert not Broadcast.objects.exists()


def test_staff_may_broadcast(client_for, staff) -> None:
    assert client_for(staff).post(URL, {"title": "Hi"}, format="json").status_code == 201


def test_anonymous_cannot_create(anonymous: APIClient) -> None:
    assert_error(anonymous.post(URL, {"title": "Hi"}, format="json"), 401)
    assert not Broadcast.objects.exists()


def test_a_blank_title_is_refused_by_the_rules(client_for, owner) -> None:
    assert_error(client_for(owner).post(URL, {"title": "   "}, format="json"), 400, "title")
    assert not Broadcast.objects.exists()


def test_only_http_stream_urls(client_for, owner) -> None:
    response = client_for(owner).post(
        URL, {"title": "Hi", "stream_url": "ftp://example.com/x"}, format="json"
    )

    assert_error(response, 400, "stream_url")
    assert not Broadcast.objects.exists()
