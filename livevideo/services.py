"""Every write the product makes. Views, the admin and consumers call these and nothing else.

Each service checks its rules, changes the database atomically, then announces the change
through ``livevideo.events`` (which publishes only after the transaction commits).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from livevideo import abuse, events, moderation, selectors
from livevideo.errors import InvalidInput, NotAllowed, ServiceError, WrongStatus
from livevideo.models import (
    Broadcast,
    BroadcastStatus,
    Comment,
    ModerationAction,
    Reaction,
    ReactionKind,
    ReactionTotal,
)

BROADCASTERS_GROUP = selectors.BROADCASTERS_GROUP
TITLE_MAX = 200
DESCRIPTION_MAX = 5000
COMMENT_MAX = 500


def can_manage(*, broadcast: Broadcast, actor: AbstractBaseUser) -> bool:
    """The broadcaster and platform staff run and moderate a broadcast."""
    return bool(
        actor.is_authenticated
        and (broadcast.broadcaster_id == actor.pk or selectors.is_platform_staff(actor))
    )


def _require_manager(broadcast: Broadcast, actor: AbstractBaseUser) -> None:
    if not can_manage(broadcast=broadcast, actor=actor):
        raise NotAllowed("Only the broadcaster or staff may do this.")


def _clean_text(value: str, *, field: str, max_length: int, required: bool) -> str:
    if not isinstance(value, str):
        raise InvalidInput("Must be a string.", field=field)
    if "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value):
        raise InvalidInput("Contains characters that are not allowed.", field=field)
    value = value.strip()
    if required and not value:
        raise InvalidInput("May not be blank.", field=field)
    if len(value) > max_length:
        raise InvalidInput(f"At most {max_length} characters.", field=field)
    return value


def _clean_url(value: str) -> str:
    value = _clean_text(value, field="stream_url", max_length=500, required=False)
    if value:
        try:
            URLValidator(schemes=["http", "https"])(value)
        except ValidationError as exc:
            raise InvalidInput("Enter a valid http(s) URL.", field="stream_url") from exc
    return value


def broadcast_create(
    *,
    broadcaster: AbstractBaseUser,
    title: str,
    description: str = "",
    stream_url: str = "",
    scheduled_for: datetime | None = None,
) -> Broadcast:
    """Create a scheduled broadcast; its creator becomes its broadcaster."""
    if not broadcaster.is_authenticated:
        raise NotAllowed("Sign in to create a broadcast.")
    broadcast = Broadcast(
        broadcaster=broadcaster,
        title=_clean_text(title, field="title", max_length=TITLE_MAX, required=True),
        description=_clean_text(
            description, field="description", max_length=DESCRIPTION_MAX, required=False
        ),
        stream_url=_clean_url(stream_url),
        scheduled_for=scheduled_for,
    )
    with transaction.atomic():
        broadcast.save()
        ReactionTotal.objects.bulk_create(
            [ReactionTotal(broadcast=broadcast, kind=kind) for kind in ReactionKind.values]
        )
        if not broadcaster.is_staff:
            # Platform staff stay out of the group: joining it would narrow them to their own.
            group, _ = Group.objects.get_or_create(name=BROADCASTERS_GROUP)
            broadcaster.groups.add(group)
    return broadcast


def broadcast_update(
    *,
    broadcast: Broadcast,
    actor: AbstractBaseUser,
    title: str,
    description: str = "",
    stream_url: str = "",
    scheduled_for: datetime | None = None,
) -> Broadcast:
    """Edit a broadcast's details (not its status)."""
    _require_manager(broadcast, actor)
    broadcast.title = _clean_text(title, field="title", max_length=TITLE_MAX, required=True)
    broadcast.description = _clean_text(
        description, field="description", max_length=DESCRIPTION_MAX, required=False
    )
    broadcast.stream_url = _clean_url(stream_url)
    broadcast.scheduled_for = scheduled_for
    broadcast.save(update_fields=["title", "description", "stream_url", "scheduled_for"])
    return broadcast


def _transition(
    *, broadcast: Broadcast, actor: AbstractBaseUser, source: str, target: str, stamp: str
) -> Broadcast:
    _require_manager(broadcast, actor)
    with transaction.atomic():
        # Lock the row so two concurrent "start" calls cannot both succeed.
        locked = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        if locked.status != source:
            raise WrongStatus(f"A {locked.status} broadcast cannot become {target}.")
        locked.status = target
        setattr(locked, stamp, timezone.now())
        locked.save(update_fields=["status", stamp])
        events.broadcast_status(locked)
    broadcast.status = locked.status
    setattr(broadcast, stamp, getattr(locked, stamp))
    return broadcast


def broadcast_start(*, broadcast: Broadcast, actor: AbstractBaseUser) -> Broadcast:
    """scheduled -> live."""
    return _transition(
        broadcast=broadcast,
        actor=actor,
        source=BroadcastStatus.SCHEDULED,
        target=BroadcastStatus.LIVE,
        stamp="started_at",
    )


def broadcast_end(*, broadcast: Broadcast, actor: AbstractBaseUser) -> Broadcast:
    """live -> ended."""
    return _transition(
        broadcast=broadcast,
        actor=actor,
        source=BroadcastStatus.LIVE,
        target=BroadcastStatus.ENDED,
        stamp="ended_at",
    )


def _require_live(broadcast: Broadcast, what: str) -> None:
    if broadcast.status != BroadcastStatus.LIVE:
        raise WrongStatus(f"{what} only while the broadcast is live (it is {broadcast.status}).")


def _require_participant(user: AbstractBaseUser) -> None:
    if not user.is_authenticated:
        raise NotAllowed("Sign in to take part.")


def reaction_kind_clean(kind: object) -> str:
    if not isinstance(kind, str) or kind not in ReactionKind.values:
        raise InvalidInput(
            f"Unknown reaction kind; use one of: {', '.join(ReactionKind.values)}.", field="kind"
        )
    return kind


def _add_to_totals(broadcast_id: int, counts: dict[str, int]) -> None:
    for kind, n in counts.items():
        updated = ReactionTotal.objects.filter(broadcast_id=broadcast_id, kind=kind).update(
            count=F("count") + n
        )
        if not updated:
            # A broadcast made outside broadcast_create has no total rows yet.
            try:
                with transaction.atomic():
                    ReactionTotal.objects.create(broadcast_id=broadcast_id, kind=kind, count=n)
            except IntegrityError:
                ReactionTotal.objects.filter(broadcast_id=broadcast_id, kind=kind).update(
                    count=F("count") + n
                )


def reactions_record(*, broadcast: Broadcast, taps: Iterable[tuple[AbstractBaseUser, str]]) -> int:
    """Store many taps on one live broadcast in one transaction; returns how many were stored.

    Each tap is ``(user, kind)`` and must already be checked (signed in, known kind).
    """
    rows = [Reaction(broadcast_id=broadcast.pk, user=user, kind=kind) for user, kind in taps]
    if not rows:
        return 0
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.kind] = counts.get(row.kind, 0) + 1
    with transaction.atomic():
        Reaction.objects.bulk_create(rows)
        _add_to_totals(broadcast.pk, counts)
        events.reactions_changed(broadcast.pk)
    return len(rows)


def reaction_check(*, broadcast: Broadcast, user: AbstractBaseUser, kind: object) -> str:
    """Check that ``user`` may tap ``kind`` on ``broadcast`` now; returns the clean kind."""
    [result] = reactions_check(broadcast=broadcast, taps=[(user, kind)])
    if isinstance(result, ServiceError):
        raise result
    return result


def reactions_check(
    *, broadcast: Broadcast, taps: Sequence[tuple[AbstractBaseUser, object]]
) -> list[str | ServiceError]:
    """``reaction_check`` for many taps, each on its own and in order, with the bans read in
    one query and the rate-limit hits counted in one round trip: each tap's clean kind or
    its refusal."""
    results: list[str | ServiceError] = []
    for user, kind in taps:
        try:
            _require_participant(user)
            clean = reaction_kind_clean(kind)
            _require_live(broadcast, "Reactions are accepted")
        except ServiceError as exc:
            results.append(exc)
        else:
            results.append(clean)
    passing = [i for i, result in enumerate(results) if isinstance(result, str)]
    banned = moderation.participation_refusals(
        broadcast=broadcast, user_ids=[taps[i][0].pk for i in passing]
    )
    for i in passing:
        results[i] = banned.get(taps[i][0].pk, results[i])
    passing = [i for i in passing if isinstance(results[i], str)]
    limited = moderation.reaction_rate_refusals(
        broadcast=broadcast, users=[taps[i][0] for i in passing]
    )
    for i, refusal in zip(passing, limited, strict=True):
        if refusal is not None:
            results[i] = refusal
    return results


def reaction_create(*, broadcast: Broadcast, user: AbstractBaseUser, kind: str) -> None:
    """One tap: checked, stored with the running totals, announced as coalesced totals."""
    clean = reaction_check(broadcast=broadcast, user=user, kind=kind)
    reactions_record(broadcast=broadcast, taps=[(user, clean)])


def comment_create(*, broadcast: Broadcast, author: AbstractBaseUser, text: object) -> Comment:
    """A plain-text comment of 1..500 characters on a live broadcast."""
    _require_participant(author)
    clean = _clean_text(text, field="text", max_length=COMMENT_MAX, required=True)  # type: ignore[arg-type]
    _require_live(broadcast, "Comments are accepted")
    moderation.participation_check(broadcast=broadcast, user=author)
    moderation.comment_text_check(broadcast=broadcast, text=clean)
    abuse.comment_spam_check(broadcast=broadcast, author=author, text=clean)
    moderation.comment_rate_check(broadcast=broadcast, user=author)
    with transaction.atomic():
        comment = Comment.objects.create(broadcast=broadcast, author=author, text=clean)
        events.comment_created(comment)
    return comment


def comment_remove(*, comment: Comment, actor: AbstractBaseUser) -> Comment:
    """Hide a comment for everyone: its author, the broadcaster or staff."""
    if not (actor.is_authenticated and comment.author_id == actor.pk) and not can_manage(
        broadcast=comment.broadcast, actor=actor
    ):
        raise NotAllowed("Only the author, the broadcaster or staff may remove this comment.")
    if comment.is_removed:
        return comment
    broadcast = comment.broadcast
    with transaction.atomic():
        comment.is_removed = True
        comment.removed_by = actor
        comment.removed_at = timezone.now()
        comment.save(update_fields=["is_removed", "removed_by", "removed_at"])
        moderation.record(
            broadcast=broadcast,
            actor=actor,
            action=ModerationAction.Action.REMOVE_COMMENT,
            target_user=comment.author,
            comment=comment,
        )
        events.comment_removed(comment)
        if broadcast.pinned_comment_id == comment.pk:
            moderation.pinned_comment_set(broadcast, None)
    return comment


def comment_restore(*, comment: Comment, actor: AbstractBaseUser) -> Comment:
    """Undo a removal (moderators only); viewers see it again after a refresh."""
    _require_manager(comment.broadcast, actor)
    if comment.is_removed:
        with transaction.atomic():
            comment.is_removed = False
            comment.removed_by = None
            comment.removed_at = None
            comment.save(update_fields=["is_removed", "removed_by", "removed_at"])
            moderation.record(
                broadcast=comment.broadcast,
                actor=actor,
                action=ModerationAction.Action.RESTORE_COMMENT,
                target_user=comment.author,
                comment=comment,
            )
    return comment


def user_create(
    *, username: str, password: str, display_name: str = "", is_staff: bool = False
) -> AbstractBaseUser:
    """A new account (already validated by the caller); the display name is its first name."""
    return get_user_model().objects.create_user(
        username=username, password=password, first_name=display_name.strip(), is_staff=is_staff
    )
