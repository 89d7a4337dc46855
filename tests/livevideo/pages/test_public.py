"""The pages as viewers use them: home, watch and accounts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from livevideo import services
from livevideo.models import (
    ReactionKind,
)
from tests.factories import (
    PASSWORD,
    BroadcastFactory,
    CommentFactory,
    UserFactory,
)
from tests.livevideo.pages.conftest import text_of

pytestmark = pytest.mark.django_db

XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


class TestHome:
    def test_live_first_then_upcoming_soonest_first_then_ended(self, client):
        now = timezone.now()
        BroadcastFactory(title="Later show", scheduled_for=now + timedelta(days=2))
        BroadcastFactory(title="Soon show", scheduled_for=now + timedelta(hours=1))
        BroadcastFactory(title="Past show", ended=True)
        live = BroadcastFactory(title="On air show", live=True)

        page = text_of(client.get(reverse("home")))

        order = [page.index(t) for t in ("On air show", "Soon show", "Later show", "Past show")]
        assert order == sorted(order)
        assert reverse("watch", args=[live.pk]) in page

    def test_anonymous_sees_sign_in_and_no_studio(self, client):
        page = text_of(client.get(reverse("home")))
        assert reverse("login") in page
        assert reverse("signup") in page
        assert reverse("studio") not in page

    def test_broadcaster_sees_their_name_studio_and_sign_out(self, client, live, broadcaster):
        client.force_login(broadcaster)
        page = text_of(client.get(reverse("home")))
        assert "Cass Caster" in page
        assert f'href="{reverse("studio")}"' in page
        assert f'action="{reverse("logout")}"' in page


class TestWatch:
    def test_anonymous_sees_the_broadcast_and_an_invitation(self, client, live):
        services.reaction_create(broadcast=live, user=UserFactory(), kind="love")

        response = client.get(reverse("watch", args=[live.pk]))

        page = text_of(response)
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
        page = text_of(client.get(reverse("watch", args=[live.pk])))
        assert "data-player-video" in page
        assert "Waiting for the broadcaster" in page
        assert "vendor/hls/hls.min.js" in page
        assert "js/player.js" in page

        with_stream = BroadcastFactory(live=True, stream_url="https://cdn.example.com/a.m3u8")
        response = client.get(reverse("watch", args=[with_stream.pk]))
        assert response.context["broadcast_data"]["stream_url"] == with_stream.stream_url
        assert 'src="https://cdn.example.com/a.m3u8"' not in text_of(response)
        assert "playsinline" in text_of(response)

    def test_signed_in_viewer_gets_a_composer_while_live(self, client, live, viewer):
        client.force_login(viewer)
        page = text_of(client.get(reverse("watch", args=[live.pk])))
        assert 'maxlength="500"' in page
        assert "0 / 500" in page
        assert "to comment and react" not in page

    def test_composer_is_closed_until_live(self, client, scheduled, viewer):
        client.force_login(viewer)
        page = text_of(client.get(reverse("watch", args=[scheduled.pk])))
        assert "Comments are open while the broadcast is live." in page
        assert re.search(r"<textarea[^>]*\sdisabled", page)
        assert re.search(r'class="badge badge-scheduled"[^>]*>Upcoming<', page)

    def test_last_hundred_visible_comments_oldest_first(self, client, live):
        comments = [CommentFactory(broadcast=live, text=f"note-{i:03d}") for i in range(103)]
        services.comment_remove(comment=comments[-1], actor=live.broadcaster)

        page = text_of(client.get(reverse("watch", args=[live.pk])))

        assert "note-001" not in page
        assert "note-102" not in page
        shown = [f"note-{i:03d}" for i in range(2, 102)]
        positions = [page.index(text) for text in shown]
        assert positions == sorted(positions)

    def test_comment_text_is_escaped(self, client, live):
        CommentFactory(broadcast=live, text=XSS)
        page = text_of(client.get(reverse("watch", args=[live.pk])))
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
        assert "Welcome, New Bie!" in text_of(response)

    def test_signup_with_mismatched_passwords_explains(self, client):
        response = client.post(
            reverse("signup"),
            {"username": "newbie", "password1": PASSWORD, "password2": PASSWORD + "x"},
        )
        assert response.status_code == 200
        assert "The two password fields didn\u2019t match." in text_of(response)
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
