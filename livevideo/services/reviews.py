"""The review queue: viewers report comments; moderators approve (a held comment then
appears for everyone) or remove them (``comment_remove``)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from livevideo import signals
from livevideo.errors import InvalidInput
from livevideo.models import Comment, CommentReport, ModerationAction
from livevideo.permissions import require_moderator, require_participant
from livevideo.services.audit import record


def comment_report_check(*, comment: Comment, reporter: AbstractBaseUser) -> None:
    require_participant(reporter)
    if comment.is_removed or comment.is_held:
        raise InvalidInput("This comment is not shown any more.", field="comment")
    if comment.author_id == reporter.pk:
        raise InvalidInput("You cannot report your own comment.", field="comment")


def comment_report(*, comment: Comment, reporter: AbstractBaseUser) -> None:
    """Put a comment in front of the moderators (once per reporter)."""
    comment_report_check(comment=comment, reporter=reporter)
    with transaction.atomic():
        _, created = CommentReport.objects.get_or_create(comment=comment, reporter=reporter)
        if created:
            signals.review_queue_changed.send_on_commit(Comment, broadcast_id=comment.broadcast_id)


def comment_approve(*, comment: Comment, actor: AbstractBaseUser) -> Comment:
    """Keep a comment: a held one appears for everyone; its reports are cleared."""
    require_moderator(comment.broadcast, actor)
    if comment.is_removed:
        raise InvalidInput("A removed comment cannot be approved.", field="comment")
    with transaction.atomic():
        was_held = comment.is_held
        if was_held:
            comment.is_held = False
            comment.save(update_fields=["is_held"])
        comment.reports.all().delete()
        record(
            broadcast=comment.broadcast,
            actor=actor,
            action=ModerationAction.Action.APPROVE_COMMENT,
            target_user=comment.author,
            comment=comment,
        )
        if was_held:
            signals.comment_created.send_on_commit(Comment, comment=comment)
        signals.review_queue_changed.send_on_commit(Comment, broadcast_id=comment.broadcast_id)
    return comment
