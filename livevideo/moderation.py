"""Moderation: who may take part in a broadcast, what a comment may say, how often, and the
moderators' tools (time-outs, bans, pins) with their audit trail.

The checks are called by ``livevideo.services`` before any write; the actions are services of
their own, for the broadcaster and staff only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from livevideo import events, selectors
from livevideo.errors import InvalidInput, NotAllowed, RateLimited
from livevideo.models import Broadcast, BroadcastBan, Comment, ModerationAction
from livevideo.ratelimit import retry_after, retry_after_many

LINK_PATTERN = re.compile(
    r"(https?://|www\.|\b[a-z0-9-]+\.(com|net|org|io|ly|gg|tv|co|me|xyz|info|biz|app|dev)\b)",
    re.IGNORECASE,
)
MAX_TIMEOUT_SECONDS = 7 * 24 * 3600
MAX_SLOW_MODE_SECONDS = 3600


def blocked_words_list(broadcast: Broadcast) -> list[str]:
    """The broadcast's blocked words: one per line or comma-separated, lower-cased."""
    return [w.strip().lower() for w in re.split(r"[,\n]", broadcast.blocked_words) if w.strip()]


def participation_check(*, broadcast: Broadcast, user: AbstractBaseUser) -> None:
    """Refuse a banned or timed-out user."""
    ban = selectors.bans_active(broadcast_id=broadcast.pk).filter(user_id=user.pk).first()
    if ban is not None:
        raise _ban_refusal(ban)


def participation_refusals(
    *, broadcast: Broadcast, user_ids: Iterable[int]
) -> dict[int, NotAllowed]:
    """``participation_check`` for many users in one query: the refusal of each one refused."""
    refusals: dict[int, NotAllowed] = {}
    for ban in selectors.bans_active(broadcast_id=broadcast.pk).filter(user_id__in=set(user_ids)):
        refusals.setdefault(ban.user_id, _ban_refusal(ban))  # newest first, as the one check
    return refusals


def _ban_refusal(ban: BroadcastBan) -> NotAllowed:
    if ban.until is None:
        return NotAllowed("You are banned from this broadcast.")
    seconds = int((ban.until - timezone.now()).total_seconds()) + 1
    return NotAllowed(f"You are timed out for {seconds} more seconds.")


def comment_text_check(*, broadcast: Broadcast, text: str) -> None:
    """Refuse blocked words, and links unless the broadcaster allows them."""
    lowered = text.lower()
    for word in blocked_words_list(broadcast):
        if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", lowered):
            raise InvalidInput("Your comment contains a blocked word.", field="text")
    if not broadcast.allow_links and LINK_PATTERN.search(text):
        raise InvalidInput("Links are not allowed in this broadcast's comments.", field="text")


def _limit(key: str, limit: int, window: float, what: str) -> None:
    refusal = _rate_refusal(retry_after(key, limit=limit, window=window), what)
    if refusal is not None:
        raise refusal


def _rate_refusal(wait: float, what: str) -> RateLimited | None:
    if not wait:
        return None
    # Rounded up: "try again in 0 s" would be untrue while any wait is left.
    return RateLimited(f"Too many {what}; try again in {math.ceil(wait)} s.", retry_after=wait)


def comment_rate_check(*, broadcast: Broadcast, user: AbstractBaseUser) -> None:
    """The per-user limit, and slow mode when the broadcast has it."""
    limit, window = settings.RATE_LIMITS["COMMENT"]
    _limit(f"comment:{broadcast.pk}:{user.pk}", limit, window, "comments")
    if broadcast.slow_mode_seconds:
        wait = retry_after(
            f"slow:{broadcast.pk}:{user.pk}", limit=1, window=broadcast.slow_mode_seconds
        )
        if wait:
            raise RateLimited(
                f"Slow mode: one comment every {broadcast.slow_mode_seconds} s.", retry_after=wait
            )


def reaction_rate_refusals(
    *, broadcast: Broadcast, users: list[AbstractBaseUser]
) -> list[RateLimited | None]:
    """One tap counted per user (a user may repeat), in one round trip to the rate-limit
    store; each tap's refusal or None, in order."""
    limit, window = settings.RATE_LIMITS["REACTION"]
    keys = [f"reaction:{broadcast.pk}:{user.pk}" for user in users]
    waits = retry_after_many(keys, limit=limit, window=window)
    return [_rate_refusal(wait, "reactions") for wait in waits]


def _require_moderator(broadcast: Broadcast, actor: AbstractBaseUser) -> None:
    from livevideo.services import can_manage

    if not can_manage(broadcast=broadcast, actor=actor):
        raise NotAllowed("Only the broadcaster or staff may moderate this broadcast.")


def record(
    *,
    broadcast: Broadcast,
    actor: AbstractBaseUser,
    action: str,
    target_user: AbstractBaseUser | None = None,
    comment: Comment | None = None,
    detail: str = "",
) -> ModerationAction:
    """One line in the audit trail."""
    return ModerationAction.objects.create(
        broadcast=broadcast,
        actor=actor if actor.is_authenticated else None,
        action=action,
        target_user=target_user,
        comment=comment,
        detail=detail[:500],
    )


def moderation_settings_update(
    *,
    broadcast: Broadcast,
    actor: AbstractBaseUser,
    slow_mode_seconds: int,
    blocked_words: str,
    allow_links: bool,
) -> Broadcast:
    """Slow mode, blocked words and links, for the broadcaster and staff."""
    _require_moderator(broadcast, actor)
    if (
        not isinstance(slow_mode_seconds, int)
        or not 0 <= slow_mode_seconds <= MAX_SLOW_MODE_SECONDS
    ):
        raise InvalidInput(
            f"Between 0 and {MAX_SLOW_MODE_SECONDS} seconds.", field="slow_mode_seconds"
        )
    if not isinstance(blocked_words, str) or len(blocked_words) > 5000:
        raise InvalidInput("At most 5000 characters of text.", field="blocked_words")
    if not isinstance(allow_links, bool):
        raise InvalidInput("Must be true or false.", field="allow_links")
    with transaction.atomic():
        broadcast.slow_mode_seconds = slow_mode_seconds
        broadcast.blocked_words = blocked_words.strip()
        broadcast.allow_links = allow_links
        broadcast.save(update_fields=["slow_mode_seconds", "blocked_words", "allow_links"])
        record(
            broadcast=broadcast,
            actor=actor,
            action=ModerationAction.Action.SETTINGS,
            detail=f"slow mode {slow_mode_seconds}s, links {'on' if allow_links else 'off'}",
        )
    return broadcast


def _bar(
    *,
    broadcast: Broadcast,
    actor: AbstractBaseUser,
    user: AbstractBaseUser,
    until: timezone.datetime | None,
    reason: str,
    action: str,
) -> BroadcastBan:
    _require_moderator(broadcast, actor)
    if user.pk == broadcast.broadcaster_id or selectors.is_platform_staff(user):
        raise NotAllowed("The broadcaster and staff cannot be timed out or banned.")
    ban, _ = BroadcastBan.objects.update_or_create(
        broadcast=broadcast,
        user=user,
        defaults={"until": until, "reason": reason[:200], "created_by": actor},
    )
    record(broadcast=broadcast, actor=actor, action=action, target_user=user, detail=reason)
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
    from livevideo.services import comment_remove

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
    _require_moderator(broadcast, actor)
    with transaction.atomic():
        deleted, _ = BroadcastBan.objects.filter(broadcast=broadcast, user=user).delete()
        if deleted:
            record(
                broadcast=broadcast,
                actor=actor,
                action=ModerationAction.Action.UNBAN,
                target_user=user,
            )


def pinned_comment_set(broadcast: Broadcast, comment: Comment | None) -> None:
    """Store and announce the broadcast's pinned comment (None: none); inside a transaction,
    after the caller's checks."""
    broadcast.pinned_comment = comment
    broadcast.save(update_fields=["pinned_comment"])
    events.comment_pinned(broadcast)


def comment_pin(*, comment: Comment, actor: AbstractBaseUser) -> Broadcast:
    """Pin one visible comment on top of the broadcast (replacing any pinned one)."""
    broadcast = comment.broadcast
    _require_moderator(broadcast, actor)
    if comment.is_removed:
        raise InvalidInput("A removed comment cannot be pinned.", field="comment")
    with transaction.atomic():
        pinned_comment_set(broadcast, comment)
        record(
            broadcast=broadcast,
            actor=actor,
            action=ModerationAction.Action.PIN_COMMENT,
            comment=comment,
        )
    return broadcast


def comment_unpin(*, broadcast: Broadcast, actor: AbstractBaseUser) -> Broadcast:
    """Clear the pinned comment."""
    _require_moderator(broadcast, actor)
    if broadcast.pinned_comment_id is None:
        return broadcast
    with transaction.atomic():
        comment = broadcast.pinned_comment
        pinned_comment_set(broadcast, None)
        record(
            broadcast=broadcast,
            actor=actor,
            action=ModerationAction.Action.UNPIN_COMMENT,
            comment=comment,
        )
    return broadcast
