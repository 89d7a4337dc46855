"""Comments: the check (signed in, clean text, live, not barred, allowed words, rate) apart
from the write (stored, then announced on commit); removal and restore by moderators."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone

from livevideo import abuse, moderation, signals
from livevideo.errors import ServiceError
from livevideo.models import Broadcast, Comment, ModerationAction
from livevideo.permissions import (
    require_comment_remover,
    require_moderator,
    require_participant,
)
from livevideo.services._text import clean_text, require_live
from livevideo.services.audit import record
from livevideo.services.pins import pinned_comment_set
from livevideo.sqltext import db_value, insert_returning_ids

COMMENT_MAX = 500

Post = tuple[AbstractBaseUser, str]  # (author, clean text) of a comment that passed so far
# A comment on any broadcast: (broadcast, author, text); the text as sent, or once clean.
Said = tuple[Broadcast, AbstractBaseUser, object]
Passed = tuple[Broadcast, AbstractBaseUser, str]


def comment_check(*, broadcast: Broadcast, author: AbstractBaseUser, text: object) -> str:
    """Check that ``author`` may say ``text`` on ``broadcast`` now; returns the clean text."""
    [result] = comments_check(broadcast=broadcast, posts=[(author, text)])
    if isinstance(result, ServiceError):
        raise result
    return result


def comments_check(
    *, broadcast: Broadcast, posts: Sequence[tuple[AbstractBaseUser, object]]
) -> list[str | ServiceError]:
    """``comment_check`` for many ``(author, text)`` posts (a batch of REST requests), each on
    its own and in order (``comments_check_across``)."""
    return comments_check_across(posts=[(broadcast, author, text) for author, text in posts])


def comments_check_across(*, posts: Sequence[Said]) -> list[str | ServiceError]:
    """``comment_check`` for many ``(broadcast, author, text)`` posts on any broadcasts (a
    batch of WebSocket comments), each on its own and in order, with each rule's reads made
    once for the whole batch, whatever the broadcasts (bans and repeats one query each, rate
    limits one round trip): each post's clean text or refusal."""
    results = [_own_check(broadcast, author, text) for broadcast, author, text in posts]
    for rule in (_bans, _words, abuse.comment_spam_refusals, moderation.comment_rate_refusals):
        passing = {
            i: (posts[i][0], posts[i][1], r) for i, r in enumerate(results) if isinstance(r, str)
        }
        if not passing:
            break
        for i, refusal in rule(posts=passing).items():
            results[i] = refusal
    return results


def _own_check(broadcast: Broadcast, author: AbstractBaseUser, text: object) -> str | ServiceError:
    """The rules that need nothing read: signed in, clean text, live."""
    try:
        require_participant(author)
        clean = clean_text(text, field="text", max_length=COMMENT_MAX, required=True)  # type: ignore[arg-type]
        require_live(broadcast, "Comments are accepted")
    except ServiceError as exc:
        return exc
    return clean


def _bans(*, posts: Mapping[int, Passed]) -> dict[int, ServiceError]:
    barred = moderation.participation_refusals_across(
        pairs=[(broadcast.pk, author.pk) for broadcast, author, _ in posts.values()]
    )
    return {
        i: barred[broadcast.pk, author.pk]
        for i, (broadcast, author, _) in posts.items()
        if (broadcast.pk, author.pk) in barred
    }


def _words(*, posts: Mapping[int, Passed]) -> dict[int, ServiceError]:
    refusals: dict[int, ServiceError] = {}
    for i, (broadcast, _, text) in posts.items():
        try:
            moderation.comment_text_check(broadcast=broadcast, text=text)
        except ServiceError as exc:
            refusals[i] = exc
    return refusals


def comment_create(*, broadcast: Broadcast, author: AbstractBaseUser, text: object) -> Comment:
    """A plain-text comment of 1..500 characters on a live broadcast; one with a hold word is
    held for review (``is_held``) and shown to nobody until a moderator approves it."""
    clean = comment_check(broadcast=broadcast, author=author, text=text)
    [comment] = comments_record(broadcast=broadcast, posts=[(author, clean)])
    return comment


def comments_create_batch(
    *, broadcast: Broadcast, posts: Sequence[tuple[AbstractBaseUser, object]]
) -> list[Comment | ServiceError]:
    """``comment_create`` for many ``(author, text)`` posts: each checked on its own
    (``comments_check``), the accepted stored in one transaction; each one's comment or
    refusal."""
    return comments_create_across(posts=[(broadcast, author, text) for author, text in posts])


def comments_create_across(*, posts: Sequence[Said]) -> list[Comment | ServiceError]:
    """``comments_create_batch`` for ``(broadcast, author, text)`` posts on any broadcasts:
    checked by ``comments_check_across`` and the accepted stored by
    ``comments_record_across``, a few queries and round trips for the whole batch whatever
    the broadcasts; each one's comment or refusal."""
    checked = comments_check_across(posts=posts)
    accepted = [
        (broadcast, author, c)
        for (broadcast, author, _), c in zip(posts, checked, strict=True)
        if isinstance(c, str)
    ]
    stored = iter(comments_record_across(posts=accepted))
    return [next(stored) if isinstance(c, str) else c for c in checked]


def comments_record(*, broadcast: Broadcast, posts: Sequence[Post]) -> list[Comment]:
    """Store checked ``(author, clean text)`` posts in one transaction, in order, each held
    for review when it has a hold word; each announced once the transaction commits."""
    return comments_record_across(posts=[(broadcast, author, text) for author, text in posts])


def comments_record_across(*, posts: Sequence[Passed]) -> list[Comment]:
    """``comments_record`` for checked ``(broadcast, author, clean text)`` posts on any
    broadcasts: one ``INSERT`` in one transaction."""
    now = timezone.now()
    comments = [
        Comment(
            broadcast=broadcast,
            author=author,
            text=text,
            created_at=now,
            is_held=moderation.comment_is_held(broadcast=broadcast, text=text),
        )
        for broadcast, author, text in posts
    ]
    if not comments:
        return comments
    with transaction.atomic():
        _insert(comments)
        for comment in comments:
            if not comment.is_held:
                signals.comment_created.send_on_commit(Comment, comment=comment)
        for broadcast_id in dict.fromkeys(c.broadcast_id for c in comments if c.is_held):
            signals.review_queue_changed.send_on_commit(Comment, broadcast_id=broadcast_id)
    return comments


def _insert(comments: list[Comment]) -> None:
    """Insert new comments (in one statement, up to ``ROWS_PER_INSERT``) and give each its id."""
    created_at = db_value(Comment, "created_at", comments[0].created_at)
    names = ("broadcast_id", "author_id", "text", "created_at", "is_removed", "is_held")
    rows = [(c.broadcast_id, c.author_id, c.text, created_at, False, c.is_held) for c in comments]
    for comment, pk in zip(comments, insert_returning_ids(Comment, names, rows), strict=True):
        comment.pk = pk
        comment._state.adding = False
        comment._state.db = DEFAULT_DB_ALIAS


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
