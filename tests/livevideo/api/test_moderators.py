"""/api/broadcasts/<id>/moderators/ and /api/moderators/: who moderates, and what a moderator
may and may not do (on their broadcast, and on any other)."""

from __future__ import annotations

import pytest

from livevideo import services
from livevideo.models import BroadcastBan, Comment, ModerationAction
from tests.factories import BroadcastFactory, CommentFactory, UserFactory
from tests.livevideo.api.asserts import assert_error


@pytest.fixture
def mod(db):
    return UserFactory(username="molly", first_name="Molly")


@pytest.fixture
def appointed(live, owner, mod):
    services.moderator_appoint(broadcast=live, actor=owner, user=mod)
    return mod


def url(broadcast, rest=""):
    return f"/api/broadcasts/{broadcast.pk}/{rest}"


def test_the_broadcaster_appoints_lists_and_removes(client_for, live, owner, mod):
    as_owner = client_for(owner)
    response = as_owner.post(url(live, "moderators/"), {"user_id": mod.pk}, format="json")
    assert response.status_code == 201
    assert response.json()["user"]["username"] == "molly"
    assert response.json()["scope"] == "broadcast"
    listed = as_owner.get(url(live, "moderators/")).json()
    assert [(m["user"]["id"], m["scope"]) for m in listed] == [(mod.pk, "broadcast")]

    assert as_owner.delete(url(live, f"moderators/{mod.pk}/")).status_code == 204
    assert as_owner.get(url(live, "moderators/")).json() == []
    actions = ModerationAction.objects.filter(actor=owner, target_user=mod)
    assert set(actions.values_list("action", flat=True)) == {
        "appoint_moderator",
        "remove_moderator",
    }


def test_who_may_appoint(client_for, live, viewer, other_broadcaster, staff, appointed):
    body = {"user_id": viewer.pk}
    assert_error(client_for(None).post(url(live, "moderators/"), body, format="json"), 401)
    for user in (viewer, other_broadcaster, appointed):  # a moderator appoints nobody
        response = client_for(user).post(url(live, "moderators/"), body, format="json")
        assert_error(response, 403)
    assert_error(client_for(appointed).delete(url(live, f"moderators/{appointed.pk}/")), 403)
    assert client_for(viewer).get(url(live, "moderators/")).status_code == 403
    assert client_for(appointed).get(url(live, "moderators/")).status_code == 200
    assert client_for(staff).post(url(live, "moderators/"), body, format="json").status_code == 201


def test_a_moderator_removes_pins_times_out_and_bans_and_is_audited(
    client_for, live, appointed, viewer
):
    as_mod = client_for(appointed)
    first, second = CommentFactory(broadcast=live), CommentFactory(broadcast=live)

    assert as_mod.delete(url(live, f"comments/{first.pk}/")).status_code == 204
    pin = as_mod.put(url(live, "pinned/"), {"comment_id": second.pk}, format="json")
    assert pin.status_code == 200
    timeout = {"user_id": viewer.pk, "seconds": 60}
    assert as_mod.post(url(live, "bans/"), timeout, format="json").status_code == 201
    assert as_mod.post(url(live, "bans/"), {"user_id": viewer.pk}, format="json").status_code == 201

    assert Comment.objects.get(pk=first.pk).is_removed
    assert BroadcastBan.objects.get(user=viewer).until is None
    assert set(
        ModerationAction.objects.filter(actor=appointed).values_list("action", flat=True)
    ) == {"remove_comment", "pin_comment", "timeout", "ban"}
    log = as_mod.get(url(live, "moderation/log/")).json()["results"]
    assert {e["actor"]["username"] for e in log if e["action"] != "appoint_moderator"} == {"molly"}


def test_a_moderator_cannot_run_the_broadcast(client_for, live, appointed):
    as_mod = client_for(appointed)
    assert_error(as_mod.post(url(live, "end/")), 403)
    live.refresh_from_db()
    assert live.status == "live"


def test_no_power_over_another_broadcast(client_for, live, appointed, viewer, other_broadcaster):
    other = BroadcastFactory(broadcaster=other_broadcaster, live=True)
    comment = CommentFactory(broadcast=other)
    as_mod = client_for(appointed)
    assert_error(as_mod.delete(url(other, f"comments/{comment.pk}/")), 403)
    response = as_mod.put(url(other, "pinned/"), {"comment_id": comment.pk}, format="json")
    assert_error(response, 403)
    response = as_mod.post(url(other, "bans/"), {"user_id": viewer.pk}, format="json")
    assert_error(response, 403)
    assert not BroadcastBan.objects.exists()
    assert not Comment.objects.get(pk=comment.pk).is_removed


def test_moderators_cannot_be_barred(client_for, live, owner, appointed):
    response = client_for(owner).post(url(live, "bans/"), {"user_id": appointed.pk}, format="json")
    assert_error(response, 403)


def test_a_standing_moderator_moderates_every_broadcast_of_theirs(client_for, owner, mod, viewer):
    as_owner = client_for(owner)
    assert as_owner.post("/api/moderators/", {"user_id": mod.pk}, format="json").status_code == 201
    assert [m["user"]["id"] for m in as_owner.get("/api/moderators/").json()] == [mod.pk]
    later = services.broadcast_create(broadcaster=owner, title="Next week")
    listed = as_owner.get(url(later, "moderators/")).json()
    assert [(m["user"]["id"], m["scope"]) for m in listed] == [(mod.pk, "standing")]
    ban = {"user_id": viewer.pk, "seconds": 30}
    assert client_for(mod).post(url(later, "bans/"), ban, format="json").status_code == 201

    assert_error(as_owner.delete(url(later, f"moderators/{mod.pk}/")), 400, "user_id")
    assert as_owner.delete(f"/api/moderators/{mod.pk}/").status_code == 204
    assert_error(client_for(mod).post(url(later, "bans/"), ban, format="json"), 403)


def test_a_plain_viewer_keeps_no_standing_list(client_for, viewer, mod):
    response = client_for(viewer).post("/api/moderators/", {"user_id": mod.pk}, format="json")
    assert_error(response, 403)


def test_the_user_card_shows_state_and_latest_comments_to_moderators(
    client_for, live, owner, appointed, viewer, other_broadcaster
):
    older = services.comment_create(broadcast=live, author=viewer, text="first")
    services.comment_create(broadcast=live, author=viewer, text="second")
    services.comment_remove(comment=older, actor=owner)
    services.user_timeout(broadcast=live, actor=owner, user=viewer, seconds=60)

    card = client_for(appointed).get(url(live, f"users/{viewer.pk}/")).json()

    assert card["user"]["username"] == "vera"
    assert card["role"] == "viewer"
    assert card["barred"]["until"].endswith("Z")
    assert [(c["text"], c["removed"]) for c in card["comments"]] == [
        ("second", False),
        ("first", True),
    ]
    assert_error(client_for(viewer).get(url(live, f"users/{viewer.pk}/")), 403)
    assert_error(client_for(other_broadcaster).get(url(live, f"users/{viewer.pk}/")), 403)


def test_who_is_watching_lists_signed_in_viewers_present(
    client_for, presence_store, live, owner, appointed, viewer, other_broadcaster
):
    from presence.backends import PresenceConnection

    away = UserFactory(username="away", first_name="Away")
    for user in (viewer, away):
        services.comment_create(broadcast=live, author=user, text="hi")
    topic = f"broadcast.{live.pk}"
    presence_store.heartbeat(
        [
            PresenceConnection(topic, "a", viewer.pk),
            PresenceConnection(topic, "b", None),
        ]  # b: anonymous
    )

    body = client_for(appointed).get(url(live, "watching/")).json()
    assert body == {
        "count": 2,
        "users": [{"id": viewer.pk, "username": "vera", "display_name": "Vera"}],
    }
    searched = client_for(owner).get(url(live, "watching/"), {"q": "nobody"}).json()
    assert searched["users"] == []
    assert_error(client_for(viewer).get(url(live, "watching/")), 403)
    assert_error(client_for(other_broadcaster).get(url(live, "watching/")), 403)


def test_who_is_watching_lists_silent_viewers_once_however_many_tabs(
    client_for, presence_store, live, owner
):
    from presence.backends import PresenceConnection

    silent = UserFactory(username="silent", first_name="Sam")  # never commented nor reacted
    topic = f"broadcast.{live.pk}"
    presence_store.heartbeat(
        [
            PresenceConnection(topic, "tab1", silent.pk, "203.0.113.5"),
            PresenceConnection(topic, "tab2", silent.pk, "198.51.100.7"),
            PresenceConnection(topic, "anon1", None, "203.0.113.5"),
            PresenceConnection(topic, "anon2", None, "203.0.113.5"),
        ]
    )

    body = client_for(owner).get(url(live, "watching/")).json()

    assert body == {
        "count": 2,  # Sam (two tabs) and one anonymous address
        "users": [{"id": silent.pk, "username": "silent", "display_name": "Sam"}],
    }
