"""The admin: broadcasters run only their own broadcasts; staff run them all."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.urls import reverse

from livevideo import services
from livevideo.models import Broadcast, BroadcastBan, BroadcastStatus, ModerationAction
from tests.factories import CommentFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:livevideo_broadcast_changelist")
COMMENTS = reverse("admin:livevideo_comment_changelist")
BANS = reverse("admin:livevideo_broadcastban_changelist")
AUDIT = reverse("admin:livevideo_moderationaction_changelist")


def _broadcaster(username: str):
    """Staff in the broadcasters group (made by a migration, with its permissions)."""
    user = UserFactory(username=username, is_staff=True)
    user.groups.add(Group.objects.get(name=services.BROADCASTERS_GROUP))
    return user


@pytest.fixture
def broadcaster():
    return _broadcaster("caster")


@pytest.fixture
def rival():
    return _broadcaster("rival")


@pytest.fixture
def superuser():
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def own(broadcaster) -> Broadcast:
    return services.broadcast_create(broadcaster=broadcaster, title="My own show")


@pytest.fixture
def rivals(rival) -> Broadcast:
    return services.broadcast_create(broadcaster=rival, title="The rival show")


def _change_url(obj) -> str:
    return reverse(f"admin:livevideo_{obj._meta.model_name}_change", args=[obj.pk])


def _act(client, url: str, action: str, *objects):
    data = {"action": action, ACTION_CHECKBOX_NAME: [o.pk for o in objects]}
    return client.post(url, data, follow=True)


class TestBroadcastScope:
    def test_broadcaster_sees_only_own_broadcasts(self, client, broadcaster, own, rivals):
        client.force_login(broadcaster)
        page = client.get(CHANGELIST).content.decode()
        assert "My own show" in page
        assert "The rival show" not in page

    def test_broadcaster_cannot_open_anothers_change_page(self, client, broadcaster, own, rivals):
        client.force_login(broadcaster)
        assert client.get(_change_url(own)).status_code == 200
        response = client.get(_change_url(rivals), follow=True)
        assert "The rival show" not in response.content.decode()
        assert "doesn\u2019t exist" in response.content.decode()

    def test_superuser_sees_every_broadcast(self, client, superuser, own, rivals):
        client.force_login(superuser)
        page = client.get(CHANGELIST).content.decode()
        assert "My own show" in page
        assert "The rival show" in page
        assert client.get(_change_url(rivals)).status_code == 200

    def test_adding_makes_the_user_the_broadcaster(self, client, broadcaster, rival):
        client.force_login(broadcaster)
        add = reverse("admin:livevideo_broadcast_add")
        assert 'name="broadcaster"' not in client.get(add).content.decode()

        response = client.post(add, {"title": "Made in admin", "broadcaster": rival.pk})

        created = Broadcast.objects.get(title="Made in admin")
        assert response.status_code == 302
        assert created.broadcaster == broadcaster
        assert created.reaction_totals.count() == 6

    def test_superuser_may_add_for_someone_else(self, client, superuser, rival):
        client.force_login(superuser)
        add = reverse("admin:livevideo_broadcast_add")
        client.post(add, {"title": "Booked for rival", "broadcaster": rival.pk})
        assert Broadcast.objects.get(title="Booked for rival").broadcaster == rival

    def test_change_page_shows_totals_and_edits_details(self, client, broadcaster, own):
        services.broadcast_start(broadcast=own, actor=broadcaster)
        services.reactions_record(broadcast=own, taps=[(UserFactory(), "funny")] * 3)
        client.force_login(broadcaster)

        page = client.get(_change_url(own)).content.decode()
        assert "funny: 3" in page
        assert page.count(">Broadcaster:</label>") == 1  # shown once, read-only

        client.post(_change_url(own), {"title": "Renamed", "description": "", "stream_url": ""})
        own.refresh_from_db()
        assert own.title == "Renamed"
        assert own.status == BroadcastStatus.LIVE


class TestBroadcastActions:
    def test_start_then_end(self, client, broadcaster, own):
        client.force_login(broadcaster)

        page = _act(client, CHANGELIST, "start_broadcasts", own).content.decode()
        own.refresh_from_db()
        assert own.status == BroadcastStatus.LIVE
        assert "1 broadcast(s) started." in page

        _act(client, CHANGELIST, "end_broadcasts", own)
        own.refresh_from_db()
        assert own.status == BroadcastStatus.ENDED

    def test_wrong_status_is_reported_per_broadcast(self, client, broadcaster, own):
        client.force_login(broadcaster)
        page = _act(client, CHANGELIST, "end_broadcasts", own).content.decode()
        assert "A scheduled broadcast cannot become ended." in page
        own.refresh_from_db()
        assert own.status == BroadcastStatus.SCHEDULED

    def test_actions_reach_only_own_broadcasts(self, client, broadcaster, own, rivals):
        client.force_login(broadcaster)
        _act(client, CHANGELIST, "start_broadcasts", own, rivals)
        own.refresh_from_db()
        rivals.refresh_from_db()
        assert own.status == BroadcastStatus.LIVE
        assert rivals.status == BroadcastStatus.SCHEDULED


class TestComments:
    @pytest.fixture
    def comments(self, broadcaster, rival, own, rivals):
        services.broadcast_start(broadcast=own, actor=broadcaster)
        services.broadcast_start(broadcast=rivals, actor=rival)
        return CommentFactory(broadcast=own, text="on my show"), CommentFactory(
            broadcast=rivals, text="on the rival show"
        )

    def test_broadcaster_sees_only_comments_on_own_broadcasts(self, client, broadcaster, comments):
        client.force_login(broadcaster)
        page = client.get(COMMENTS).content.decode()
        assert "on my show" in page
        assert "on the rival show" not in page
        assert "The rival show" not in page  # not even in the broadcast filter

    def test_remove_and_restore(self, client, broadcaster, comments):
        mine, theirs = comments
        client.force_login(broadcaster)

        page = _act(client, COMMENTS, "remove_comments", mine, theirs).content.decode()
        mine.refresh_from_db()
        theirs.refresh_from_db()
        assert mine.is_removed
        assert mine.removed_by == broadcaster
        assert not theirs.is_removed
        assert "1 comment(s) removed." in page

        _act(client, COMMENTS, "restore_comments", mine)
        mine.refresh_from_db()
        assert not mine.is_removed

    def test_pin_time_out_and_ban_reach_only_own_broadcasts(self, client, broadcaster, comments):
        mine, theirs = comments
        client.force_login(broadcaster)

        _act(client, COMMENTS, "pin_comment", mine)
        page = _act(client, COMMENTS, "time_out_authors", mine, theirs).content.decode()
        assert "1 author(s) timed out." in page
        mine.broadcast.refresh_from_db()
        assert mine.broadcast.pinned_comment_id == mine.pk
        ban = BroadcastBan.objects.get(user=mine.author)
        assert (ban.broadcast_id, ban.until is not None) == (mine.broadcast_id, True)
        assert not BroadcastBan.objects.filter(broadcast=theirs.broadcast).exists()

        _act(client, COMMENTS, "ban_authors", mine)
        assert BroadcastBan.objects.get(user=mine.author).until is None

    def test_comments_cannot_be_added_or_edited(self, client, broadcaster, comments):
        client.force_login(broadcaster)
        assert client.get(reverse("admin:livevideo_comment_add")).status_code == 403
        page = client.get(_change_url(comments[0])).content.decode()
        assert "on my show" in page
        assert 'name="_save"' not in page


def test_reactions_are_read_only(client, superuser):
    client.force_login(superuser)
    assert client.get(reverse("admin:livevideo_reaction_changelist")).status_code == 200
    assert client.get(reverse("admin:livevideo_reaction_add")).status_code == 403


class TestModeration:
    @pytest.fixture
    def trouble(self, broadcaster, rival, own, rivals):
        """A troll timed out on the broadcaster's show and banned from the rival's."""
        troll = UserFactory(username="troll")
        services.user_timeout(broadcast=own, actor=broadcaster, user=troll, seconds=600)
        services.user_ban(broadcast=rivals, actor=rival, user=troll, reason="rival's reason")
        return troll

    def test_broadcaster_sees_only_own_audit_rows_and_filters(self, client, broadcaster, trouble):
        client.force_login(broadcaster)
        response = client.get(AUDIT)
        rows = list(response.context["cl"].result_list)
        assert [(r.action, r.target_user) for r in rows] == [("timeout", trouble)]
        assert "The rival show" not in response.content.decode()  # not even in the filter
        assert not client.get(AUDIT + "?action__exact=ban").context["cl"].result_list

    def test_audit_trail_is_read_only(self, client, broadcaster, own, trouble):
        client.force_login(broadcaster)
        row = ModerationAction.objects.get(broadcast=own)
        assert client.get(reverse("admin:livevideo_moderationaction_add")).status_code == 403
        page = client.get(_change_url(row)).content.decode()
        assert "Timed out a user" in page
        assert 'name="_save"' not in page
        client.post(_change_url(row), {"detail": "rewritten"})
        row.refresh_from_db()
        assert row.detail != "rewritten"

    def test_rivals_audit_row_is_hidden(self, client, broadcaster, rivals, trouble):
        client.force_login(broadcaster)
        row = ModerationAction.objects.get(broadcast=rivals)
        response = client.get(_change_url(row), follow=True)
        assert "rival&#x27;s reason" not in response.content.decode()

    def test_lift_reaches_only_own_bans_and_is_audited(
        self, client, broadcaster, own, rivals, trouble
    ):
        client.force_login(broadcaster)
        page = client.get(BANS).content.decode()
        assert "My own show" in page
        assert "The rival show" not in page

        page = _act(client, BANS, "lift_bans", *BroadcastBan.objects.all()).content.decode()
        assert "1 ban(s) lifted." in page
        assert list(BroadcastBan.objects.values_list("broadcast", flat=True)) == [rivals.pk]
        assert ModerationAction.objects.filter(broadcast=own, action="unban").exists()

    def test_superuser_sees_every_row(self, client, superuser, trouble):
        client.force_login(superuser)
        rows = client.get(AUDIT).context["cl"].result_list
        assert sorted(r.action for r in rows) == ["ban", "timeout"]

    def test_broadcast_change_page_edits_moderation_through_the_service(
        self, client, broadcaster, own
    ):
        client.force_login(broadcaster)
        page = client.get(_change_url(own)).content.decode()
        assert 'name="slow_mode_seconds"' in page
        assert 'name="blocked_words"' in page

        details = {"title": own.title, "description": "", "stream_url": ""}
        client.post(_change_url(own), {**details, "slow_mode_seconds": "0"})
        assert not ModerationAction.objects.exists()  # nothing changed, nothing audited

        client.post(
            _change_url(own), {**details, "slow_mode_seconds": "20", "blocked_words": "spam"}
        )
        own.refresh_from_db()
        assert (own.slow_mode_seconds, own.blocked_words) == (20, "spam")
        assert ModerationAction.objects.get(broadcast=own).actor == broadcaster

    def test_broadcast_change_refuses_a_too_long_slow_mode(self, client, broadcaster, own):
        client.force_login(broadcaster)
        response = client.post(_change_url(own), {"title": own.title, "slow_mode_seconds": "9999"})
        assert response.status_code == 200
        assert "less than or equal to 3600" in response.content.decode()
        own.refresh_from_db()
        assert own.slow_mode_seconds == 0
