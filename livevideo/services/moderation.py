"""Moderators' tools: chat settings, time-outs and bans, each audited with who did it."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from livevideo import signals
from livevideo.errors import InvalidInput, NotAllowed
from livevideo.models import Broadcast, BroadcastBan, Comment, ModerationAction
from livevideo.moderation import MAX_SLOW_MODE_SECONDS, MAX_TIMEOUT_SECONDS
from livevideo.permissions import can_moderate, require_moderator
from livevideo.services.audit import record
from livevideo.services.comments import comment_remove


def moderation_settings_check(
    *,
    broadcast: Broadcast,
    actor: AbstractBaseUser,
    slow_mode_seconds: object,
    blocked_words: object,
    allow_links: object,
    hold_words: object = "",
) -> None:
    require_moderator(broadcast, actor)
    if (
        not isinstance(slow_mode_seconds, int)
        or not 0 <= slow_mode_seconds <= MAX_SLOW_MODE_SECONDS
    ):
        raise InvalidInput(
            f"Between 0 and {MAX_SLOW_MODE_SECONDS} seconds.", field="slow_mode_seconds"
        )
    for field, words in (("blocked_words", blocked_words), ("hold_words", hold_words)):
        if not isinstance(words, str) or len(words) > 5000:
            raise InvalidInput("At most 5000 characters of text.", field=field)
    if not isinstance(allow_links, bool):
        raise InvalidInput("Must be true or false.", field="allow_links")


def moderation_settings_update(
    *,
    broadcast: Broadcast,
    actor: AbstractBaseUser,
    slow_mode_seconds: int,
    blocked_words: str,
    allow_links: bool,
    hold_words: str | None = None,
) -> Broadcast:
    """Slow mode, blocked words, links and hold words (None: unchanged)."""
    if hold_words is None:
        hold_words = broadcast.hold_words
    moderation_settings_check(
        broadcast=broadcast,
        actor=actor,
        slow_mode_seconds=slow_mode_seconds,
        blocked_words=blocked_words,
        allow_links=allow_links,
        hold_words=hold_words,
    )
    with transaction.atomic():
        broadcast.slow_mode_seconds = slow_mode_seconds
        broadcast.blocked_words = blocked_words.strip()
        broadcast.allow_links = allow_links
        broadcast.hold_words = hold_words.strip()
        broadcast.save(
            update_fields=["slow_mode_seconds", "blocked_words", "allow_links", "hold_words"]
        )
        record(
            broadcast=broadcast,
            actor=actor,
            action=ModerationAction.Action.SETTINGS,
            detail=f"slow mode {slow_mode_seconds}s, links {'on' if allow_links else 'off'}",
        )
        signals.chat_rules_changed.send_on_commit(Broadcast, broadcast=broadcast)
    return broadcast


def bar_check(*, broadcast: Broadcast, actor: AbstractBaseUser, user: AbstractBaseUser) -> None:
    """May ``actor`` time out or ban ``user`` on ``broadcast``?"""
    require_moderator(broadcast, actor)
    if can_moderate(broadcast=broadcast, actor=user):
        raise NotAllowed(
            "The broadcaster, moderators and staff cannot be timed out or banned "
            "(remove a moderator first)."
        )


def _bar(
    *,
    broadcast: Broadcast,
    actor: AbstractBaseUser,
    user: AbstractBaseUser,
    until: datetime | None,
    reason: str,
    action: str,
) -> BroadcastBan:
    bar_check(broadcast=broadcast, actor=actor, user=user)
    ban, _ = BroadcastBan.objects.update_or_create(
        broadcast=broadcast,
        user=user,
        defaults={"until": until, "reason": reason[:200], "created_by": actor},
    )
    record(broadcast=broadcast, actor=actor, action=action, target_user=user, detail=reason)
    signals.viewer_barred.send_on_commit(
        BroadcastBan, broadcast=broadcast, user_id=user.pk, ban=ban
    )
    return ban


def user_timeout(
    *,
    broadcast: Broadcast,
    actor: AbstractBaseUser,
    user: AbstractBaseUser,
    seconds: int,
    reason: str = "",
) -> BroadcastBan:
    """Bar ``user`` from commenting and reacting for ``seconds``."""
    if not isinstance(seconds, int) or not 1 <= seconds <= MAX_TIMEOUT_SECONDS:
        raise InvalidInput(f"Between 1 and {MAX_TIMEOUT_SECONDS} seconds.", field="seconds")
    with transaction.atomic():
        return _bar(
            broadcast=broadcast,
            actor=actor,
            user=user,
            until=timezone.now() + timedelta(seconds=seconds),
            reason=reason,
            action=ModerationAction.Action.TIMEOUT,
        )


def user_ban(
    *,
    broadcast: Broadcast,
    actor: AbstractBaseUser,
    user: AbstractBaseUser,
    remove_comments: bool = False,
    reason: str = "",
) -> BroadcastBan:
    """Bar ``user`` from this broadcast for good; optionally remove their comments."""
    with transaction.atomic():
        ban = _bar(
            broadcast=broadcast,
            actor=actor,
            user=user,
            until=None,
            reason=reason,
            action=ModerationAction.Action.BAN,
        )
        if remove_comments:
            for comment in Comment.objects.filter(
                broadcast=broadcast, author=user, is_removed=False
            ).select_related("broadcast"):
                comment_remove(comment=comment, actor=actor)
    return ban


def user_unban(*, broadcast: Broadcast, actor: AbstractBaseUser, user: AbstractBaseUser) -> None:
    """Lift a ban or time-out."""
    require_moderator(broadcast, actor)
    with transaction.atomic():
        deleted, _ = BroadcastBan.objects.filter(broadcast=broadcast, user=user).delete()
        if deleted:
            record(
                broadcast=broadcast,
                actor=actor,
                action=ModerationAction.Action.UNBAN,
                target_user=user,
            )
            signals.viewer_barred.send_on_commit(
                BroadcastBan, broadcast=broadcast, user_id=user.pk, ban=None
            )
