"""DELETE /api/broadcasts/<id>/comments/<cid>/"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import BroadcastFactory, CommentFactory
from tests.livevideo.api.asserts import assert_error


@pytest.fixture
def comment(live, viewer):
    return CommentFactory(broadcast=live, author=viewer)


def url(comment) -> str:
    return f"/api/broadcasts/{comment.broadcast_id}/comments/{comment.pk}/"


@pytest.mark.parametrize("persona", ["viewer", "owner", "staff"])
def test_author_broadcaster_or_staff_remove_it(request, client_for, comment, persona) -> None:
    user = request.getfixturevalue(persona)

    response = client_for(user).delete(url(comment))

    assert response.status_code == 204
    comment.refresh_from_db()
    assert comment.is_removed
    assert comment.removed_by == user
    listed = client_for(None).get(f"/api/broadcasts/{comment.broadcast_id}/comments/").json()
    assert listed["results"] == []


@pytest.mark.parametrize("persona", ["other_broadcaster", "another_viewer"])
def test_others_are_forbidden(request, client_for, comment, persona) -> None:
    user = (
        CommentFactory(broadcast=comment.broadcast).author
        if persona == "another_viewer"
        else request.getfixturevalue(persona)
    )

    assert_error(client_for(user).delete(url(comment)), 403)
    comment.refresh_from_db()
    assert not comment.is_removed


def test_anonymous_must_sign_in(anonymous: APIClient, comment) -> None:
    assert_error(anonymous.delete(url(comment)), 401)
    comment.refresh_from_db()
    assert not comment.is_removed


def test_a_comment_of_another_broadcast_is_404(client_for, staff, comment) -> None:
    elsewhere = BroadcastFactory(live=True)

    response = client_for(staff).delete(f"/api/broadcasts/{elsewhere.pk}/comments/{comment.pk}/")

    assert_error(response, 404)
    comment.refresh_from_db()
    assert not comment.is_removed


def test_removing_twice_is_404_the_second_time(client_for, viewer, comment) -> None:
    assert client_for(viewer).delete(url(comment)).status_code == 204
    assert_error(client_for(viewer).delete(url(comment)), 404)


def test_an_unknown_comment_is_404(client_for, staff, live) -> None:
    assert_error(client_for(staff).delete(f"/api/broadcasts/{live.pk}/comments/424242/"), 404)
