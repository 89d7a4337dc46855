"""POST /api/broadcasts/"""

from __future__ import annotations

from rest_framework.test import APIClient

from livevideo.models import Broadcast, ReactionKind
from tests.livevideo.api.asserts import assert_error

URL = "/api/broadcasts/"


def test_a_signed_in_viewer_becomes_the_broadcaster(client_for, viewer) -> None:
    response = client_for(viewer).post(
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
    assert broadcast.broadcaster == viewer
    assert body["title"] == "Launch day"
    assert body["status"] == "scheduled"
    assert body["scheduled_for"] == "2030-05-01T10:00:00Z"
    assert body["broadcaster"] == {"id": viewer.pk, "username": "vera", "display_name": "Vera"}
    assert body["reactions"] == {"totals": dict.fromkeys(ReactionKind.values, 0), "total": 0}


def test_only_the_title_is_required(client_for, viewer) -> None:
    body = client_for(viewer).post(URL, {"title": "Hi"}, format="json").json()

    assert (body["description"], body["stream_url"], body["scheduled_for"]) == ("", "", None)


def test_anonymous_cannot_create(anonymous: APIClient) -> None:
    assert_error(anonymous.post(URL, {"title": "Hi"}, format="json"), 401)
    assert not Broadcast.objects.exists()


def test_a_blank_title_is_refused_by_the_rules(client_for, viewer) -> None:
    assert_error(client_for(viewer).post(URL, {"title": "   "}, format="json"), 400, "title")
    assert not Broadcast.objects.exists()


def test_only_http_stream_urls(client_for, viewer) -> None:
    response = client_for(viewer).post(
        URL, {"title": "Hi", "stream_url": "ftp://example.com/x"}, format="json"
    )

    assert_error(response, 400, "stream_url")
    assert not Broadcast.objects.exists()
