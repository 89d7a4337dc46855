"""POST /api/broadcasts/<id>/comments/"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from livevideo.models import Comment
from tests.livevideo.api.asserts import assert_error


def url(broadcast) -> str:
    return f"/api/broadcasts/{broadcast.pk}/comments/"


@pytest.mark.parametrize("persona", ["viewer", "owner", "other_broadcaster", "staff"])
def test_anyone_signed_in_comments_while_live(request, client_for, live, persona) -> None:
    user = request.getfixturevalue(persona)

    response = client_for(user).post(url(live), {"text": "  Hello!  "}, format="json")

    assert response.status_code == 201
    comment = Comment.objects.get()
    assert response.json() == {
        "id": comment.pk,
        "broadcast": live.pk,
        "author": {"id": user.pk, "username": user.username, "display_name": user.get_full_name()},
        "text": "Hello!",
        "created_at": comment.created_at.isoformat().replace("+00:00", "Z"),
    }


def test_anonymous_must_sign_in(anonymous: APIClient, live) -> None:
    assert_error(anonymous.post(url(live), {"text": "hi"}, format="json"), 401)
    assert not Comment.objects.exists()


@pytest.mark.parametrize("state", ["scheduled", "ended"])
def test_only_while_live(request, client_for, viewer, state) -> None:
    broadcast = request.getfixturevalue(state)

    assert_error(client_for(viewer).post(url(broadcast), {"text": "hi"}, format="json"), 409)
    assert not Comment.objects.exists()


@pytest.mark.parametrize("text", ["", "   ", "x" * 501])
def test_text_must_be_1_to_500_characters(client_for, viewer, live, text) -> None:
    assert_error(client_for(viewer).post(url(live), {"text": text}, format="json"), 400, "text")
    assert not Comment.objects.exists()


def test_an_unknown_broadcast_is_404(client_for, viewer) -> None:
    response = client_for(viewer).post("/api/broadcasts/424242/comments/", {"text": "hi"})

    assert_error(response, 404)
