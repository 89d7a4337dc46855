"""The HTML side as people use it: home, watch, accounts and the studio."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from livevideo import services
from livevideo.errors import NotAllowed
from livevideo.models import (
    Broadcast,
    BroadcastBan,
    BroadcastStatus,
    ModerationAction,
    ReactionKind,
)
from tests.factories import (
    PASSWORD,
    BroadcasterFactory,
    BroadcastFactory,
    CommentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def viewer():
    return UserFactory(username="viewer", first_name="Vera Viewer")


@pytest.fixture
def broadcaster():
    return BroadcasterFactory(username="caster", first_name="Cass Caster")


@pytest.fixture
def other_broadcaster():
    return BroadcasterFactory(username="rival")


@pytest.fixture
def staff():
    return UserFactory(username="staff", is_staff=True)


@pytest.fixture
def scheduled(broadcaster) -> Broadcast:
    return services.broadcast_create(broadcaster=broadcaster, title="Rehearsal")


@pytest.fixture
def live(broadcaster) -> Broadcast:
    broadcast = services.broadcast_create(broadcaster=broadcaster, title="Launch day")
    return services.broadcast_start(broadcast=broadcast, actor=broadcaster)


@pytest.fixture
def rivals_broadcast(other_broadcaster) -> Broadcast:
    return services.broadcast_create(broadcaster=other_broadcaster, title="Rival show")


def _text(response) -> str:
    return response.content.decode()


class TestHome:
    def test_live_first_then_upcoming_soonest_first_then_ended(self, client):
        now = timezone.now()
        BroadcastFactory(title="Later show", scheduled_for=now + timedelta(days=2))
        BroadcastFactory(title="Soon show", scheduled_for=now + timedelta(hours=1))
        BroadcastFactory(title="Past show", ended=True)
        live = BroadcastFactory(title="On air show", live=True)

        page = _text(client.get(reverse("home")))

        order = [page.index(t) for t in ("On air show", "Soon show", "Later show", "Past show")]
        assert order == sorted(order)
        assert reverse("watch", args=[live.pk]) in page

    def test_anonymous_sees_sign_in_and_no_studio(self, client):
        page = _text(client.get(reverse("home")))
        assert reverse("login") in page
        assert reverse("signup") in page
        assert reverse("studio") not in page

    def test_broadcaster_sees_their_name_studio_and_sign_out(self, client, live, broadcaster):
        client.force_login(broadcaster)
        page = _text(client.get(reverse("home")))
        assert "Cass Caster" in page
        assert f'href="{reverse("studio")}"' in page
        assert f'action="{reverse("logout")}"' in page


class TestWatch:
    def test_anonymous_sees_the_broadcast_and_an_invitation(self, client, live):
        services.reaction_create(broadcast=live, user=UserFactory(), kind="love")

        response = client.get(reverse("watch", args=[live.pk]))

        page = _text(response)
        assert response.status_code == 200
        assert "Launch day" in page
        assert "Cass Caster" in page
        assert 'class="badge badge-live"' in page
        for kind in ReactionKind.values:
            assert f'data-reaction="{kind}"' in page
        assert 'aria-label="Love (1)"' in page
        assert "to comment and react" in page
        assert "data-composer" not in page
        data = response.context["broadcast_data"]
        assert data["id"] == live.pk
        assert '<script id="broadcast-data" type="application/json">' in page

    def test_the_player_waits_for_video_and_loads_it_by_script(self, client, live):
        # A bare <video src> plays no live format in Chromium or Firefox: player.js loads the
        # playback_url (or an external stream_url) with hls.js.
        page = _text(client.get(reverse("watch", args=[live.pk])))
        assert "data-player-video" in page
        assert "Waiting for the broadcaster" in page
        assert "vendor/hls/hls.min.js" in page
        assert "js/player.js" in page

        with_stream = BroadcastFactory(live=True, stream_url="https://cdn.example.com/a.m3u8")
        response = client.get(reverse("watch", args=[with_stream.pk]))
        assert response.context["broadcast_data"]["stream_url"] == with_stream.stream_url
        assert 'src="https://cdn.example.com/a.m3u8"' not in _text(response)
        assert "playsinline" in _text(response)

    def test_signed_in_viewer_gets_a_composer_while_live(self, client, live, viewer):
        client.force_login(viewer)
        page = _text(client.get(reverse("watch", args=[live.pk])))
        assert 'maxlength="500"' in page
        assert "0 / 500" in page
        assert "to comment and react" not in page

    def test_composer_is_closed_until_live(self, client, scheduled, viewer):
        client.force_login(viewer)
        page = _text(client.get(reverse("watch", args=[scheduled.pk])))
        assert "Comments are open while the broadcast is live." in page
        assert re.search(r"<textarea[^>]*\sdisabled", page)
        assert re.search(r'class="badge badge-scheduled"[^>]*>Upcoming<', page)

    def test_last_hundred_visible_comments_oldest_first(self, client, live):
        comments = [CommentFactory(broadcast=live, text=f"note-{i:03d}") for i in range(103)]
        services.comment_remove(comment=comments[-1], actor=live.broadcaster)

        page = _text(client.get(reverse("watch", args=[live.pk])))

        assert "note-001" not in page
        assert "note-102" not in page
        shown = [f"note-{i:03d}" for i in range(2, 102)]
        positions = [page.index(text) for text in shown]
        assert positions == sorted(positions)

    def test_comment_text_is_escaped(self, client, live):
        CommentFactory(broadcast=live, text=XSS)
        page = _text(client.get(reverse("watch", args=[live.pk])))
        assert XSS_ESCAPED in page
        assert XSS not in page

    def test_unknown_broadcast_is_404(self, client):
        assert client.get(reverse("watch", args=[999999])).status_code == 404

    def test_sets_the_csrf_cookie_for_api_calls(self, client, live):
        response = client.get(reverse("watch", args=[live.pk]))
        assert "csrftoken" in response.cookies


class TestAccounts:
    def test_signup_creates_the_user_and_signs_in(self, client):
        response = client.post(
            reverse("signup"),
            {
                "username": "newbie",
                "display_name": "New Bie",
                "password1": PASSWORD,
                "password2": PASSWORD,
            },
            follow=True,
        )
        user = get_user_model().objects.get(username="newbie")
        assert user.first_name == "New Bie"
        assert user.check_password(PASSWORD)
        assert response.context["user"] == user
        assert "Welcome, New Bie!" in _text(response)

    def test_signup_with_mismatched_passwords_explains(self, client):
        response = client.post(
            reverse("signup"),
            {"username": "newbie", "password1": PASSWORD, "password2": PASSWORD + "x"},
        )
        assert response.status_code == 200
        assert "The two password fields didn\u2019t match." in _text(response)
        assert not get_user_model().objects.filter(username="newbie").exists()

    def test_login_then_logout_is_post_only(self, client, viewer):
        response = client.post(
            reverse("login"), {"username": "viewer", "password": PASSWORD}, follow=True
        )
        assert response.context["user"] == viewer

        assert client.get(reverse("logout")).status_code == 405
        assert client.get(reverse("home")).context["user"] == viewer

        response = client.post(reverse("logout"), follow=True)
        assert not response.context["user"].is_authenticated


class TestStudio:
    def test_requires_sign_in(self, client, live):
        for url in (reverse("studio"), reverse("studio_broadcast", args=[live.pk])):
            response = client.get(url)
            assert response.status_code == 302
            assert response.url.startswith(reverse("login"))

    def test_lists_only_own_broadcasts(self, client, broadcaster, live, rivals_broadcast):
        client.force_login(broadcaster)
        page = _text(client.get(reverse("studio")))
        assert "Launch day" in page
        assert "Rival show" not in page

    def test_staff_sees_every_broadcast(self, client, staff, live, rivals_broadcast):
        client.force_login(staff)
        page = _text(client.get(reverse("studio")))
        assert "Launch day" in page
        assert "Rival show" in page

    def test_another_broadcasters_broadcast_is_404(self, client, broadcaster, rivals_broadcast):
        client.force_login(broadcaster)
        pk = rivals_broadcast.pk
        assert client.get(reverse("studio_broadcast", args=[pk])).status_code == 404
        assert client.get(reverse("studio_edit", args=[pk])).status_code == 404
        assert client.post(reverse("studio_start", args=[pk])).status_code == 404
        rivals_broadcast.refresh_from_db()
        assert rivals_broadcast.status == BroadcastStatus.SCHEDULED

    def test_create_then_edit_a_broadcast(self, client, broadcaster):
        client.force_login(broadcaster)
        response = client.post(
            reverse("studio_new"),
            {"title": "My first show", "stream_url": "https://cdn.example.com/s.m3u8"},
        )
        broadcast = Broadcast.objects.get(title="My first show")
        assert broadcast.broadcaster == broadcaster
        assert response.url == reverse("studio_broadcast", args=[broadcast.pk])

        client.post(
            reverse("studio_edit", args=[broadcast.pk]),
            {"title": "Renamed show", "description": "Now with notes."},
        )
        broadcast.refresh_from_db()
        assert (broadcast.title, broadcast.description) == ("Renamed show", "Now with notes.")
        assert broadcast.stream_url == ""

    def test_create_rejects_bad_input_with_reasons(self, client, broadcaster):
        client.force_login(broadcaster)
        response = client.post(
            reverse("studio_new"), {"title": "   ", "stream_url": "ftp://example.com/v"}
        )
        page = _text(response)
        assert response.status_code == 200
        assert "This field is required." in page
        assert "Enter a valid URL." in page
        assert not Broadcast.objects.exists()

    def test_go_live_then_end(self, client, broadcaster, scheduled):
        client.force_login(broadcaster)
        page = _text(client.post(reverse("studio_start", args=[scheduled.pk]), follow=True))
        scheduled.refresh_from_db()
        assert scheduled.status == BroadcastStatus.LIVE
        assert "“Rehearsal” is live." in page

        page = _text(client.post(reverse("studio_end", args=[scheduled.pk]), follow=True))
        scheduled.refresh_from_db()
        assert scheduled.status == BroadcastStatus.ENDED
        assert "has ended" in page

    def test_wrong_status_is_a_message_not_an_error(self, client, broadcaster, scheduled):
        client.force_login(broadcaster)
        response = client.post(reverse("studio_end", args=[scheduled.pk]), follow=True)
        assert response.status_code == 200
        assert "A scheduled broadcast cannot become ended." in _text(response)
        scheduled.refresh_from_db()
        assert scheduled.status == BroadcastStatus.SCHEDULED

    def test_start_and_end_need_post(self, client, broadcaster, scheduled):
        client.force_login(broadcaster)
        assert client.get(reverse("studio_start", args=[scheduled.pk])).status_code == 405

    def test_returns_to_the_page_it_came_from(self, client, broadcaster, scheduled):
        client.force_login(broadcaster)
        studio = reverse("studio")
        response = client.post(reverse("studio_start", args=[scheduled.pk]), {"next": studio})
        assert response.url == studio
        response = client.post(
            reverse("studio_end", args=[scheduled.pk]), {"next": "https://evil.example/"}
        )
        assert response.url == reverse("studio_broadcast", args=[scheduled.pk])

    def test_broadcast_page_shows_totals_and_moderates(self, client, broadcaster, live):
        fan = UserFactory()
        services.reactions_record(broadcast=live, taps=[(fan, "like"), (fan, "like")])
        bad = CommentFactory(broadcast=live, text=XSS)
        CommentFactory(broadcast=live, text="A kind word")
        client.force_login(broadcaster)

        response = client.get(reverse("studio_broadcast", args=[live.pk]))
        page = _text(response)
        assert "watching now" in page
        assert response.context["reactions_total"] == 2
        assert {r["kind"]: r["count"] for r in response.context["reactions"]}["like"] == 2
        assert XSS_ESCAPED in page
        assert XSS not in page

        remove = reverse("studio_comment_remove", args=[live.pk, bad.pk])
        page = _text(client.post(remove, follow=True))
        bad.refresh_from_db()
        assert bad.is_removed
        assert bad.removed_by == broadcaster
        assert "Comment removed." in page
        assert XSS_ESCAPED not in page
        assert "A kind word" in page


JSON = {"HTTP_ACCEPT": "application/json"}


class TestStudioModeration:
    """The studio's moderation tools: studio.js posts with Accept: application/json."""

    @pytest.fixture
    def comment(self, live, viewer):
        return CommentFactory(broadcast=live, author=viewer, text="First!")

    def _post(self, client, name, *args, data=None, **extra):
        return client.post(reverse(name, args=args), data or {}, **extra)

    def test_page_has_the_live_panel_and_the_tools(self, client, broadcaster, live, comment):
        client.force_login(broadcaster)
        page = _text(client.get(reverse("studio_broadcast", args=[live.pk])))
        assert "comments per minute" in page
        assert "data-chart" in page
        assert reverse("studio_comment_pin", args=[live.pk, comment.pk]) in page
        assert reverse("studio_user_ban", args=[live.pk, comment.author_id]) in page
        assert 'name="slow_mode_seconds"' in page
        assert "Nobody is banned or timed out." in page

    def test_pin_shows_on_the_watch_page_then_unpin(self, client, broadcaster, live, comment):
        client.force_login(broadcaster)
        response = self._post(client, "studio_comment_pin", live.pk, comment.pk, **JSON)
        assert response.json() == {"message": "Comment pinned."}
        live.refresh_from_db()
        assert live.pinned_comment == comment
        assert "data-pinned-text>First!<" in _text(client.get(reverse("watch", args=[live.pk])))

        self._post(client, "studio_unpin", live.pk, **JSON)
        live.refresh_from_db()
        assert live.pinned_comment is None
        actions = ModerationAction.objects.filter(broadcast=live).values_list("action", flat=True)
        assert set(actions) == {"pin_comment", "unpin_comment"}

    def test_time_out_stops_the_author_commenting(self, client, broadcaster, live, comment, viewer):
        client.force_login(broadcaster)
        response = self._post(
            client, "studio_user_timeout", live.pk, viewer.pk, data={"seconds": "600"}, **JSON
        )
        assert response.json() == {"message": "Vera Viewer is timed out for 10 min."}
        ban = BroadcastBan.objects.get(broadcast=live, user=viewer)
        assert timedelta(seconds=590) < ban.until - timezone.now() <= timedelta(seconds=600)
        with pytest.raises(NotAllowed, match="timed out"):
            services.comment_create(broadcast=live, author=viewer, text="again")
        page = _text(client.get(reverse("studio_broadcast", args=[live.pk])))
        assert "timed out until" in page

    def test_ban_removes_comments_then_unban(self, client, broadcaster, live, comment, viewer):
        client.force_login(broadcaster)
        page = _text(
            self._post(
                client,
                "studio_user_ban",
                live.pk,
                viewer.pk,
                data={"remove_comments": "on"},
                follow=True,
            )
        )
        assert "Vera Viewer is banned from this broadcast and their comments removed." in page
        comment.refresh_from_db()
        assert comment.is_removed
        assert BroadcastBan.objects.get(broadcast=live, user=viewer).until is None

        self._post(client, "studio_user_unban", live.pk, viewer.pk)
        assert not BroadcastBan.objects.filter(broadcast=live).exists()
        actions = list(
            ModerationAction.objects.filter(broadcast=live).values_list("action", flat=True)
        )
        assert actions == ["unban", "remove_comment", "ban"]

    def test_settings_are_saved_and_audited(self, client, broadcaster, live):
        client.force_login(broadcaster)
        data = {"slow_mode_seconds": "30", "blocked_words": "spam, scam", "allow_links": "on"}
        response = self._post(client, "studio_moderation_settings", live.pk, data=data, **JSON)
        assert response.status_code == 200
        live.refresh_from_db()
        assert (live.slow_mode_seconds, live.blocked_words, live.allow_links) == (
            30,
            "spam, scam",
            True,
        )
        assert ModerationAction.objects.get(broadcast=live).action == "settings"

    def test_refusals_are_messages_with_reasons(self, client, broadcaster, live, viewer):
        client.force_login(broadcaster)
        response = self._post(client, "studio_user_ban", live.pk, broadcaster.pk, **JSON)
        assert response.status_code == 403
        assert "cannot be timed out or banned" in response.json()["message"]

        response = self._post(
            client, "studio_user_timeout", live.pk, viewer.pk, data={"seconds": "soon"}, **JSON
        )
        assert response.status_code == 400
        assert response.json()["message"] == "Enter a whole number."

        response = self._post(
            client, "studio_moderation_settings", live.pk, data={"slow_mode_seconds": "99999"}
        )
        assert response.status_code == 302
        page = _text(client.get(response.url))
        assert "Ensure this value is less than or equal to 3600." in page
        assert not BroadcastBan.objects.exists()
        live.refresh_from_db()
        assert live.slow_mode_seconds == 0

    def test_others_broadcasts_are_404_and_untouched(self, client, live, comment, viewer):
        client.force_login(UserFactory(username="stranger"))
        attempts = [
            ("studio_comment_pin", live.pk, comment.pk),
            ("studio_comment_remove", live.pk, comment.pk),
            ("studio_unpin", live.pk),
            ("studio_user_timeout", live.pk, viewer.pk),
            ("studio_user_ban", live.pk, viewer.pk),
            ("studio_user_unban", live.pk, viewer.pk),
            ("studio_moderation_settings", live.pk),
        ]
        for name, *args in attempts:
            assert self._post(client, name, *args, data={"seconds": "60"}).status_code == 404
        assert not ModerationAction.objects.exists()
        assert not BroadcastBan.objects.exists()

    def test_sign_in_and_post_required(self, client, broadcaster, live, viewer):
        url = reverse("studio_user_ban", args=[live.pk, viewer.pk])
        assert client.post(url).url.startswith(reverse("login"))
        client.force_login(broadcaster)
        assert client.get(url).status_code == 405
        assert self._post(client, "studio_user_ban", live.pk, 999999).status_code == 404


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_sign_in_attempts_are_limited(client, settings, path, db):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "SIGN_IN": (2, 300.0)}
    for _ in range(2):
        response = client.post(path, {"username": "nobody", "password": "wrong"})
        assert b"Too many" not in response.content
    response = client.post(path, {"username": "nobody", "password": "wrong"})
    assert response.status_code == 200
    assert b"Too many sign-in attempts" in response.content


def test_favicon_ico_leads_to_the_site_icon(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("favicon.svg")


def test_django_lines_are_logged_once():
    """Only the root handler prints: Django's own console handler would repeat each line."""
    import logging

    assert logging.getLogger("django").handlers == []
    assert logging.getLogger("django.channels.server").handlers == []


def test_a_plain_viewer_may_not_create_a_broadcast(client, viewer):
    client.force_login(viewer)

    assert "New broadcast" not in _text(client.get(reverse("studio")))
    assert client.get(reverse("studio_new")).status_code == 403
    assert client.post(reverse("studio_new"), {"title": "Mine"}).status_code == 403
    assert not Broadcast.objects.exists()


class TestStudioForModerators:
    @pytest.fixture
    def mod(self, live, broadcaster):
        user = UserFactory(username="molly", first_name="Molly")
        services.moderator_appoint(broadcast=live, actor=broadcaster, user=user)
        return user

    def test_a_moderator_moderates_but_does_not_run_it(self, client, live, mod, viewer):
        client.force_login(mod)
        page = _text(client.get(reverse("studio_broadcast", args=[live.pk])))
        assert "You moderate this broadcast" in page
        for control in ("Go live", ">End<", "Moderators</h2>"):
            assert control not in page
        assert "Launch day" in _text(client.get(reverse("studio")))

        url = reverse("studio_user_timeout", args=[live.pk, viewer.pk])
        assert client.post(url, {"seconds": "60"}).status_code == 302
        assert BroadcastBan.objects.filter(user=viewer, created_by=mod).exists()
        for name in ("studio_end", "studio_edit"):
            assert client.post(reverse(name, args=[live.pk])).status_code == 404
        live.refresh_from_db()
        assert live.status == BroadcastStatus.LIVE

    def test_no_studio_for_another_broadcast(self, client, mod, rivals_broadcast):
        client.force_login(mod)
        assert (
            client.get(reverse("studio_broadcast", args=[rivals_broadcast.pk])).status_code == 404
        )

    def test_the_broadcaster_appoints_by_username(self, client, live, broadcaster, viewer):
        client.force_login(broadcaster)
        response = client.post(
            reverse("studio_moderator_add", args=[live.pk]),
            {"username": "viewer"},
            HTTP_ACCEPT="application/json",
        )
        assert response.json() == {"message": "Vera Viewer is a moderator of this broadcast."}
        page = _text(client.get(reverse("studio_broadcast", args=[live.pk])))
        assert "Vera Viewer" in page
