"""The studio as broadcasters, staff and moderators use it: broadcasts, going live, moderation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from livevideo import services
from livevideo.errors import NotAllowed
from livevideo.models import (
    Broadcast,
    BroadcastBan,
    BroadcastStatus,
    ModerationAction,
)
from tests.factories import (
    CommentFactory,
    UserFactory,
)
from tests.livevideo.pages.conftest import text_of

pytestmark = pytest.mark.django_db

XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


class TestStudio:
    def test_requires_sign_in(self, client, live):
        for url in (reverse("studio"), reverse("studio_broadcast", args=[live.pk])):
            response = client.get(url)
            assert response.status_code == 302
            assert response.url.startswith(reverse("login"))

    def test_lists_only_own_broadcasts(self, client, broadcaster, live, rivals_broadcast):
        client.force_login(broadcaster)
        page = text_of(client.get(reverse("studio")))
        assert "Launch day" in page
        assert "Rival show" not in page

    def test_staff_sees_every_broadcast(self, client, staff, live, rivals_broadcast):
        client.force_login(staff)
        page = text_of(client.get(reverse("studio")))
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
        page = text_of(response)
        assert response.status_code == 200
        assert "This field is required." in page
        assert "Enter a valid URL." in page
        assert not Broadcast.objects.exists()

    def test_go_live_then_end(self, client, broadcaster, scheduled):
        client.force_login(broadcaster)
        page = text_of(client.post(reverse("studio_start", args=[scheduled.pk]), follow=True))
        scheduled.refresh_from_db()
        assert scheduled.status == BroadcastStatus.LIVE
        assert "“Rehearsal” is live." in page

        page = text_of(client.post(reverse("studio_end", args=[scheduled.pk]), follow=True))
        scheduled.refresh_from_db()
        assert scheduled.status == BroadcastStatus.ENDED
        assert "has ended" in page

    def test_wrong_status_is_a_message_not_an_error(self, client, broadcaster, scheduled):
        client.force_login(broadcaster)
        response = client.post(reverse("studio_end", args=[scheduled.pk]), follow=True)
        assert response.status_code == 200
        assert "A scheduled broadcast cannot become ended." in text_of(response)
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
        page = text_of(response)
        assert "watching now" in page
        assert response.context["reactions_total"] == 2
        assert {r["kind"]: r["count"] for r in response.context["reactions"]}["like"] == 2
        assert XSS_ESCAPED in page
        assert XSS not in page

        remove = reverse("studio_comment_remove", args=[live.pk, bad.pk])
        page = text_of(client.post(remove, follow=True))
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
        page = text_of(client.get(reverse("studio_broadcast", args=[live.pk])))
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
        assert "data-pinned-text>First!<" in text_of(client.get(reverse("watch", args=[live.pk])))

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
        page = text_of(client.get(reverse("studio_broadcast", args=[live.pk])))
        assert "timed out until" in page

    def test_ban_removes_comments_then_unban(self, client, broadcaster, live, comment, viewer):
        client.force_login(broadcaster)
        page = text_of(
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
        page = text_of(client.get(response.url))
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


def test_a_plain_viewer_may_not_create_a_broadcast(client, viewer):
    client.force_login(viewer)

    assert "New broadcast" not in text_of(client.get(reverse("studio")))
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
        page = text_of(client.get(reverse("studio_broadcast", args=[live.pk])))
        assert "You moderate this broadcast" in page
        for control in ("Go live", ">End<", "Moderators</h2>"):
            assert control not in page
        assert "Launch day" in text_of(client.get(reverse("studio")))

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
        page = text_of(client.get(reverse("studio_broadcast", args=[live.pk])))
        assert "Vera Viewer" in page
