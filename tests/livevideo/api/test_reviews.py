"""Reports and held comments: the review queue, approve and remove, who may do each."""

from __future__ import annotations

import pytest

from livevideo import selectors, services
from livevideo.models import ModerationAction
from tests.factories import UserFactory
from tests.livevideo.api.asserts import assert_error


@pytest.fixture
def held_live(live, owner):
    services.moderation_settings_update(
        broadcast=live,
        actor=owner,
        slow_mode_seconds=0,
        blocked_words="",
        allow_links=False,
        hold_words="giveaway",
    )
    return live


def url(broadcast, rest=""):
    return f"/api/broadcasts/{broadcast.pk}/{rest}"


def test_a_hold_word_holds_the_comment_until_approved(client_for, held_live, owner, viewer):
    response = client_for(viewer).post(
        url(held_live, "comments/"), {"text": "Free GIVEAWAY here"}, format="json"
    )
    assert response.status_code == 202
    assert response.json()["held"] is True
    held_id = response.json()["id"]
    anonymous = client_for(None)
    assert anonymous.get(url(held_live, "comments/")).json()["results"] == []

    queue = client_for(owner).get(url(held_live, "review/")).json()
    assert [(item["comment"]["id"], item["held"], item["reports"]) for item in queue] == [
        (held_id, True, 0)
    ]
    approved = client_for(owner).post(url(held_live, f"review/{held_id}/approve/"))
    assert approved.status_code == 200
    shown = anonymous.get(url(held_live, "comments/")).json()["results"]
    assert [c["id"] for c in shown] == [held_id]
    assert client_for(owner).get(url(held_live, "review/")).json() == []
    assert ModerationAction.objects.filter(action="approve_comment", actor=owner).exists()


def test_reports_queue_a_comment_and_removing_it_clears_the_queue(client_for, live, owner, viewer):
    comment = services.comment_create(broadcast=live, author=viewer, text="rude words")
    reporters = [UserFactory(username=f"r{i}") for i in range(2)]
    for reporter in reporters + reporters:  # twice each: counted once each
        response = client_for(reporter).post(url(live, f"comments/{comment.pk}/report/"))
        assert response.status_code == 202
    queue = client_for(owner).get(url(live, "review/")).json()
    assert [(i["comment"]["id"], i["held"], i["reports"]) for i in queue] == [
        (comment.pk, False, 2)
    ]
    assert client_for(owner).delete(url(live, f"comments/{comment.pk}/")).status_code == 204
    assert selectors.review_queue(broadcast_id=live.pk).count() == 0


def test_who_may_report_and_review(client_for, live, owner, viewer, other_broadcaster):
    comment = services.comment_create(broadcast=live, author=viewer, text="mine")
    assert_error(client_for(None).post(url(live, f"comments/{comment.pk}/report/")), 401)
    assert_error(
        client_for(viewer).post(url(live, f"comments/{comment.pk}/report/")), 400, "comment"
    )
    for user in (viewer, other_broadcaster):
        assert_error(client_for(user).get(url(live, "review/")), 403)
        assert_error(client_for(user).post(url(live, f"review/{comment.pk}/approve/")), 403)
    mod = UserFactory(username="molly")
    services.moderator_appoint(broadcast=live, actor=owner, user=mod)
    assert client_for(mod).get(url(live, "review/")).status_code == 200
