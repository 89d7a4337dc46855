"""Comments: the check (signed in, clean text, live, not barred, allowed words, rate) apart
from the write (stored, then announced on commit); removal and restore by moderators."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from livevideo import abuse, moderation, signals
from livevideo.models import Broadcast, Comment, ModerationAction
from livevideo.permissions import (
    require_comment_remover,
    require_moderator,
    require_participant,
)
from livevideo.services._text import clean_text, require_live
from livevideo.services.audit import record
from livevideo.services.pins import pinned_comment_set

COMMENT_MAX = 500


def comment_check(*, broadcast: Broadcast, author: AbstractBaseUser, text: object) -> str:
    """Check that ``author`` may say ``text`` on ``broadcast`` now; returns the clean text."""
    require_participant(author)
    clean = clean_text(text, field="text", max_length=COMMENT_MAX, required=True)  # type: ignore[arg-type]
    require_live(broadcast, "Comments are accepted")
    moderation.participation_check(broadcast=broadcast, user=author)
    moderation.comment_text_check(broadcast=broadcast, text=clean)
    abuse.comment_spam_check(broadcast=broadcast, author=author, text=clean)
    moderation.comment_rate_check(broadcast=broadcast, user=author)
    return clean


def comment_create(*, broadcast: Broadcast, author: AbstractBaseUser, text: object) -> Comment:
    """A plain-text comment of 1..500 characters on a live broadcast; one with a hold word is
    held for review (``is_held``) and shown to nobody until a moderator approves it."""
    clean = comment_check(broadcast=broadcast, author=author, text=text)
    held = moderation.comment_is_held(broadcast=broadcast, text=clean)
    with transaction.atomic():
        comment = Comment.objects.create(
            broadcast=broadcast, author=author, text=clean, is_held=held
        )
        if held:
            signals.review_queue_changed.send_on_commit(Comment, broadcast_id=broadcast.pk)
        else:
            signals.comment_created.send_on_commit(Comment, comment=comment)
    return comment


def comment_remove_check(*, comment: Comment, actor: AbstractBaseUser) -> None:
    require_comment_remover(comment, actor)


def comment_remove(*, comment: Comment, actor: AbstractBaseUser) -> Comment:
    """Hide a comment for everyone: its author, the broadcaster, a moderator or staff."""
    comment_remove_check(comment=comment, actor=actor)
    if comment.is_removed:
        return comment
    broadcast = comment.broadcast
    with transaction.atomic():
        comment.is_removed = True
        comment.removed_by = actor
        comment.removed_at = timezone.now()
        comment.save(update_fields=["is_removed", "removed_by", "removed_at"])
        record(
            broadcast=broadcast,
            actor=actor,
            action=ModerationAction.Action.REMOVE_COMMENT,
            target_user=comment.author,
            comment=comment,
        )
        signals.comment_removed.send_on_commit(Comment, comment=comment)
        if comment.is_held or comment.reports.exists():
            signals.review_queue_changed.send_on_commit(Comment, broadcast_id=broadcast.pk)
        if broadcast.pinned_comment_id == comment.pk:
            pinned_comment_set(broadcast, None)
    return comment


def comment_restore(*, comment: Comment, actor: AbstractBaseUser) -> Comment:
    """Undo a removal (moderators only); viewers see it again after a refresh."""
    require_moderator(comment.broadcast, actor)
    if comment.is_removed:
        with transaction.atomic():
            comment.is_removed = False
            comment.removed_by = None
            comment.removed_at = None
            comment.save(update_fields=["is_removed", "removed_by", "removed_at"])
            record(
                broadcast=comment.broadcast,
                actor=actor,
                action=ModerationAction.Action.RESTORE_COMMENT,
                target_user=comment.author,
                comment=comment,
            )
    return comment
