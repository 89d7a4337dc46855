"""The pinned comment on top of a broadcast."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from livevideo import signals
from livevideo.errors import InvalidInput
from livevideo.models import Broadcast, Comment, ModerationAction
from livevideo.permissions import require_moderator
from livevideo.services.audit import record


def pinned_comment_set(broadcast: Broadcast, comment: Comment | None) -> None:
    """Store and announce the broadcast's pinned comment (None: none); inside a transaction,
    after the caller's checks."""
    broadcast.pinned_comment = comment
    broadcast.save(update_fields=["pinned_comment"])
    signals.comment_pinned.send_on_commit(Broadcast, broadcast=broadcast)


def comment_pin_check(*, comment: Comment, actor: AbstractBaseUser) -> None:
    require_moderator(comment.broadcast, actor)
    if comment.is_removed:
        raise InvalidInput("A removed comment cannot be pinned.", field="comment")


def comment_pin(*, comment: Comment, actor: AbstractBaseUser) -> Broadcast:
    """Pin one visible comment on top of the broadcast (replacing any pinned one)."""
    comment_pin_check(comment=comment, actor=actor)
    broadcast = comment.broadcast
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
    require_moderator(broadcast, actor)
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
