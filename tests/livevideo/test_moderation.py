"""Moderation rules: limits, slow mode, blocked words, links, time-outs, bans, pins, audit."""

from __future__ import annotations

import pytest

from livevideo import services
from livevideo.errors import InvalidInput, NotAllowed, RateLimited
from livevideo.models import BroadcastBan, Comment, ModerationAction, Reaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def live(owner):
    broadcast = services.broadcast_create(broadcaster=owner, title="Live")
    return services.broadcast_start(broadcast=broadcast, actor=owner)


def comment(broadcast, author, text="hello"):
    return services.comment_create(broadcast=broadcast, author=author, text=text)


class TestRateLimits:
    def test_comments_over_the_limit_are_refused_with_a_wait(self, live, viewer, settings):
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, "COMMENT": (2, 10.0)}
        comment(live, viewer, "one")
        comment(live, viewer, "two")
        with pytest.raises(RateLimited) as info:
            comment(live, viewer, "three")
        assert 1 <= info.value.retry_after <= 10
        assert Comment.objects.count() == 2

    def test_a_wait_under_a_second_is_not_called_zero(self, live, viewer, settings):
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, "REACTION": (1, 0.4)}
        services.reaction_create(broadcast=live, user=viewer, kind="like")
        with pytest.raises(RateLimited, match=r"try again in 1 s\.") as info:
            services.reaction_create(broadcast=live, user=viewer, kind="like")
        assert 0 < info.value.retry_after <= 1

    def test_limits_are_per_user(self, live, viewer, stranger, settings):
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, "COMMENT": (1, 10.0)}
        comment(live, viewer)
        comment(live, stranger)
        assert Comment.objects.count() == 2

    def test_reactions_are_limited(self, live, viewer, settings):
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, "REACTION": (3, 1.0)}
        for _ in range(3):
            services.reaction_create(broadcast=live, user=viewer, kind="like")
        with pytest.raises(RateLimited):
            services.reaction_create(broadcast=live, user=viewer, kind="like")
        assert Reaction.objects.count() == 3


class TestCommentRules:
    def test_slow_mode(self, live, owner, viewer, stranger):
        services.moderation_settings_update(
            broadcast=live, actor=owner, slow_mode_seconds=30, blocked_words="", allow_links=False
        )
        comment(live, viewer)
        with pytest.raises(RateLimited, match="Slow mode"):
            comment(live, viewer, "again")
        comment(live, stranger)

    @pytest.mark.parametrize("text", ["you SPAM bot", "spam", "buy spam, now"])
    def test_blocked_words(self, live, owner, viewer, text):
        services.moderation_settings_update(
            broadcast=live,
            actor=owner,
            slow_mode_seconds=0,
            blocked_words="spam\nscam",
            allow_links=True,
        )
        with pytest.raises(InvalidInput, match="blocked word"):
            comment(live, viewer, text)

    def test_blocked_word_inside_another_word_is_fine(self, live, owner, viewer):
        services.moderation_settings_update(
            broadcast=live, actor=owner, slow_mode_seconds=0, blocked_words="ass", allow_links=False
        )
        comment(live, viewer, "a classic pass")

    @pytest.mark.parametrize(
        "text", ["see https://x.test", "www.example.org", "go to evil.com now"]
    )
    def test_links_refused_unless_allowed(self, live, owner, viewer, text):
        with pytest.raises(InvalidInput, match="Links"):
            comment(live, viewer, text)
        services.moderation_settings_update(
            broadcast=live, actor=owner, slow_mode_seconds=0, blocked_words="", allow_links=True
        )
        comment(live, viewer, text)

    def test_settings_are_for_moderators(self, live, viewer):
        with pytest.raises(NotAllowed):
            services.moderation_settings_update(
                broadcast=live,
                actor=viewer,
                slow_mode_seconds=5,
                blocked_words="",
                allow_links=True,
            )

    @pytest.mark.parametrize("seconds", [-1, 3601, "5", None])
    def test_bad_slow_mode(self, live, owner, seconds):
        with pytest.raises(InvalidInput):
            services.moderation_settings_update(
                broadcast=live,
                actor=owner,
                slow_mode_seconds=seconds,
                blocked_words="",
                allow_links=False,
            )


class TestTimeoutsAndBans:
    def test_timed_out_user_cannot_take_part(self, live, owner, viewer):
        services.user_timeout(broadcast=live, actor=owner, user=viewer, seconds=60)
        with pytest.raises(NotAllowed, match="timed out"):
            comment(live, viewer)
        with pytest.raises(NotAllowed, match="timed out"):
            services.reaction_create(broadcast=live, user=viewer, kind="like")

    def test_expired_timeout_lets_them_back(self, live, owner, viewer):
        services.user_timeout(broadcast=live, actor=owner, user=viewer, seconds=60)
        BroadcastBan.objects.update(until="2000-01-01T00:00:00Z")
        comment(live, viewer)

    def test_ban_removes_comments_when_asked(self, live, owner, viewer, stranger):
        mine = comment(live, viewer, "mine")
        theirs = comment(live, stranger, "theirs")
        services.user_ban(broadcast=live, actor=owner, user=viewer, remove_comments=True)
        mine.refresh_from_db()
        theirs.refresh_from_db()
        assert mine.is_removed
        assert not theirs.is_removed
        with pytest.raises(NotAllowed, match="banned"):
            comment(live, viewer)

    def test_unban(self, live, owner, viewer):
        services.user_ban(broadcast=live, actor=owner, user=viewer)
        services.user_unban(broadcast=live, actor=owner, user=viewer)
        comment(live, viewer)

    def test_only_moderators_ban(self, live, viewer, stranger):
        with pytest.raises(NotAllowed):
            services.user_ban(broadcast=live, actor=viewer, user=stranger)

    def test_broadcaster_and_staff_cannot_be_banned(self, live, staff, owner):
        with pytest.raises(NotAllowed):
            services.user_ban(broadcast=live, actor=staff, user=owner)
        with pytest.raises(NotAllowed):
            services.user_timeout(broadcast=live, actor=owner, user=staff, seconds=10)

    @pytest.mark.parametrize("seconds", [0, -5, 10**9, "60"])
    def test_bad_timeout(self, live, owner, viewer, seconds):
        with pytest.raises(InvalidInput):
            services.user_timeout(broadcast=live, actor=owner, user=viewer, seconds=seconds)


class TestPins:
    def test_pin_and_unpin(self, live, owner, viewer):
        c = comment(live, viewer)
        services.comment_pin(comment=c, actor=owner)
        live.refresh_from_db()
        assert live.pinned_comment == c
        services.comment_unpin(broadcast=live, actor=owner)
        live.refresh_from_db()
        assert live.pinned_comment is None

    def test_removing_the_pinned_comment_unpins_it(self, live, owner, viewer):
        c = comment(live, viewer)
        services.comment_pin(comment=c, actor=owner)
        services.comment_remove(comment=c, actor=owner)
        live.refresh_from_db()
        assert live.pinned_comment is None

    def test_only_moderators_pin(self, live, viewer):
        with pytest.raises(NotAllowed):
            services.comment_pin(comment=comment(live, viewer), actor=viewer)

    def test_removed_comments_cannot_be_pinned(self, live, owner, viewer):
        c = comment(live, viewer)
        services.comment_remove(comment=c, actor=viewer)
        with pytest.raises(InvalidInput):
            services.comment_pin(comment=c, actor=owner)


def test_audit_trail_records_each_action(live, owner, viewer):
    c = comment(live, viewer)
    services.comment_pin(comment=c, actor=owner)
    services.comment_remove(comment=c, actor=owner)
    services.comment_restore(comment=c, actor=owner)
    services.user_timeout(broadcast=live, actor=owner, user=viewer, seconds=30, reason="cool off")
    services.user_unban(broadcast=live, actor=owner, user=viewer)
    actions = list(ModerationAction.objects.order_by("id").values_list("action", "actor__username"))
    assert actions == [
        ("pin_comment", "owner"),
        ("remove_comment", "owner"),
        ("restore_comment", "owner"),
        ("timeout", "owner"),
        ("unban", "owner"),
    ]
