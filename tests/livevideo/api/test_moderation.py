"""The moderators' endpoints: settings, bans and time-outs, the pinned comment, the audit log."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from livevideo.models import BroadcastBan, Comment
from tests.factories import CommentFactory
from tests.livevideo.api.asserts import assert_error


@pytest.fixture
def as_owner(client_for, owner) -> APIClient:
    return client_for(owner)


@pytest.fixture
def as_viewer(client_for, viewer) -> APIClient:
    return client_for(viewer)


def url(broadcast, rest=""):
    return f"/api/broadcasts/{broadcast.pk}/{rest}"


class TestSettings:
    def test_owner_reads_and_changes_them(self, as_owner, live):
        body = {"slow_mode_seconds": 30, "blocked_words": "spam, scam", "allow_links": True}
        response = as_owner.put(url(live, "moderation/"), body, format="json")
        assert response.status_code == 200
        assert response.json() == {**body, "hold_words": ""}
        body["hold_words"] = "giveaway"
        assert as_owner.put(url(live, "moderation/"), body, format="json").json() == body
        assert as_owner.get(url(live, "moderation/")).json() == body

    @pytest.mark.parametrize(
        "body",
        [
            {"slow_mode_seconds": "30", "blocked_words": "", "allow_links": True},
            {"slow_mode_seconds": -1, "blocked_words": "", "allow_links": True},
            {"slow_mode_seconds": 5, "blocked_words": ["x"], "allow_links": True},
            {"slow_mode_seconds": 5, "blocked_words": "", "allow_links": "maybe"},
            {},
        ],
    )
    def test_bad_input_is_400(self, as_owner, live, body):
        response = as_owner.put(url(live, "moderation/"), body, format="json")
        assert response.status_code == 400
        live.refresh_from_db()
        assert live.slow_mode_seconds == 0

    def test_personas(self, client_for, live, viewer, other_broadcaster, staff):
        assert client_for(None).get(url(live, "moderation/")).status_code == 401
        assert client_for(viewer).get(url(live, "moderation/")).status_code == 403
        assert client_for(other_broadcaster).get(url(live, "moderation/")).status_code == 403
        assert client_for(staff).get(url(live, "moderation/")).status_code == 200

    def test_unknown_broadcast_is_404(self, as_owner):
        assert_error(as_owner.get("/api/broadcasts/999999/moderation/"), 404)


class TestBans:
    def test_timeout_then_comment_is_refused_then_lifted(self, as_owner, as_viewer, live, viewer):
        response = as_owner.post(
            url(live, "bans/"), {"user_id": viewer.pk, "seconds": 60}, format="json"
        )
        assert response.status_code == 201
        assert response.json()["until"] is not None
        refused = as_viewer.post(url(live, "comments/"), {"text": "hi"}, format="json")
        assert_error(refused, 403)
        assert "timed out" in refused.json()["detail"]
        assert [b["user"]["id"] for b in as_owner.get(url(live, "bans/")).json()] == [viewer.pk]
        assert as_owner.delete(url(live, f"bans/{viewer.pk}/")).status_code == 204
        assert (
            as_viewer.post(url(live, "comments/"), {"text": "hi"}, format="json").status_code == 201
        )

    def test_ban_removing_comments(self, as_owner, live, viewer):
        CommentFactory(broadcast=live, author=viewer)
        response = as_owner.post(
            url(live, "bans/"), {"user_id": viewer.pk, "remove_comments": True}, format="json"
        )
        assert response.status_code == 201
        assert response.json()["until"] is None
        assert not Comment.objects.filter(author=viewer, is_removed=False).exists()

    def test_viewer_cannot_ban(self, as_viewer, live, owner):
        response = as_viewer.post(url(live, "bans/"), {"user_id": owner.pk}, format="json")
        assert_error(response, 403)
        assert not BroadcastBan.objects.exists()

    @pytest.mark.parametrize(
        "body", [{"user_id": "1"}, {"user_id": 1, "seconds": 0}, {"user_id": 10**30}, {}]
    )
    def test_bad_input(self, as_owner, live, body):
        assert as_owner.post(url(live, "bans/"), body, format="json").status_code == 400

    def test_unknown_user_is_404(self, as_owner, live):
        assert_error(as_owner.post(url(live, "bans/"), {"user_id": 999999}, format="json"), 404)


class TestPinned:
    def test_pin_shows_in_the_detail_and_unpin_clears_it(self, as_owner, live):
        comment = CommentFactory(broadcast=live)
        response = as_owner.put(url(live, "pinned/"), {"comment_id": comment.pk}, format="json")
        assert response.status_code == 200
        assert response.json()["comment"]["id"] == comment.pk
        assert as_owner.get(url(live)).json()["pinned_comment"]["id"] == comment.pk
        assert as_owner.delete(url(live, "pinned/")).status_code == 204
        assert as_owner.get(url(live)).json()["pinned_comment"] is None

    def test_comment_of_another_broadcast_is_404(self, as_owner, live, ended):
        other = CommentFactory(broadcast=ended)
        assert_error(
            as_owner.put(url(live, "pinned/"), {"comment_id": other.pk}, format="json"), 404
        )

    def test_viewer_cannot_pin(self, as_viewer, live):
        comment = CommentFactory(broadcast=live)
        response = as_viewer.put(url(live, "pinned/"), {"comment_id": comment.pk}, format="json")
        assert_error(response, 403)


def test_audit_log_lists_actions_newest_first(as_owner, live, viewer):
    comment = CommentFactory(broadcast=live)
    as_owner.put(url(live, "pinned/"), {"comment_id": comment.pk}, format="json")
    as_owner.post(url(live, "bans/"), {"user_id": viewer.pk, "seconds": 10}, format="json")
    body = as_owner.get(url(live, "moderation/log/")).json()
    assert [e["action"] for e in body["results"]] == ["timeout", "pin_comment"]
    assert body["results"][0]["target_user"]["id"] == viewer.pk


def test_comments_over_the_rate_limit_get_429_with_retry_after(as_viewer, live, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "COMMENT": (1, 10.0)}
    assert as_viewer.post(url(live, "comments/"), {"text": "one"}, format="json").status_code == 201
    response = as_viewer.post(url(live, "comments/"), {"text": "two"}, format="json")
    assert_error(response, 429)
    assert 1 <= int(response["Retry-After"]) <= 10


def test_token_sign_in_attempts_are_limited(anonymous, viewer, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "SIGN_IN": (2, 300.0)}
    for _ in range(2):
        response = anonymous.post(
            "/api/auth/token/", {"username": "vera", "password": "wrong"}, format="json"
        )
        assert response.status_code == 400
    response = anonymous.post(
        "/api/auth/token/", {"username": "vera", "password": "wrong"}, format="json"
    )
    assert_error(response, 429)
    assert response["Retry-After"]
