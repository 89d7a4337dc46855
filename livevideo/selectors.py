"""Every read the product makes: pages, the API and the stream's hello use these. The dicts
they build for REST and the stream follow the shapes in ``livevideo.shapes``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

import presence.selectors
from livevideo import shapes
from livevideo.models import (
    Broadcast,
    BroadcastBan,
    BroadcastModerator,
    BroadcastStatus,
    Comment,
    ModerationAction,
    ReactionKind,
    ReactionTotal,
    StandingModerator,
)
from livevideo.video import selectors as video


def display_name(user: AbstractBaseUser) -> str:
    return user.get_full_name().strip() or user.get_username()


def user_data(user: AbstractBaseUser) -> shapes.UserData:
    """A user as the API and the stream show one."""
    return {"id": user.pk, "username": user.get_username(), "display_name": display_name(user)}


def _broadcasts() -> QuerySet[Broadcast]:
    """Broadcasts with what ``broadcast_data`` shows of them loaded in the same query."""
    return Broadcast.objects.select_related("broadcaster", "pinned_comment__author")


def broadcast_list(*, status: str | None = None) -> QuerySet[Broadcast]:
    """Broadcasts, newest first, optionally of one status."""
    qs = Broadcast.objects.select_related("broadcaster", "pinned_comment__author").order_by(
        "-created_at", "-id"
    )
    if status:
        qs = qs.filter(status=status)
    return qs


def broadcast_home(*, recent_ended: int = 12) -> dict[str, list[Broadcast]]:
    """The home page: live first, then upcoming (soonest first), then recently ended."""
    base = _broadcasts()
    return {
        "live": list(base.filter(status=BroadcastStatus.LIVE).order_by("-started_at", "-id")),
        "upcoming": list(
            base.filter(status=BroadcastStatus.SCHEDULED).order_by("scheduled_for", "-created_at")
        ),
        "ended": list(
            base.filter(status=BroadcastStatus.ENDED).order_by("-ended_at", "-id")[:recent_ended]
        ),
    }


BROADCASTERS_GROUP = "broadcasters"


def is_platform_staff(user: AbstractBaseUser) -> bool:
    """Staff who run and moderate every broadcast: superusers, and staff accounts that are not
    broadcaster accounts (a broadcaster is staff only to reach the admin for their own)."""
    if not user.is_authenticated or not user.is_staff:
        return False
    if user.is_superuser:
        return True
    # Cached on the user object: permission checks ask many times per request.
    if not hasattr(user, "_livevideo_platform_staff"):
        user._livevideo_platform_staff = not user.groups.filter(name=BROADCASTERS_GROUP).exists()
    return user._livevideo_platform_staff


def is_moderator(*, broadcast_id: int, broadcaster_id: int, user: AbstractBaseUser) -> bool:
    """Appointed to this broadcast, or on its broadcaster's standing list."""
    if not user.is_authenticated:
        return False
    return (
        BroadcastModerator.objects.filter(broadcast_id=broadcast_id, user_id=user.pk).exists()
        or StandingModerator.objects.filter(broadcaster_id=broadcaster_id, user_id=user.pk).exists()
    )


def broadcasts_moderated_by(*, user: AbstractBaseUser) -> QuerySet[Broadcast]:
    """What a user may moderate: their own, those they are appointed to, those of broadcasters
    who keep them on their standing list; staff: all."""
    qs = Broadcast.objects.select_related("broadcaster", "pinned_comment__author").order_by(
        "-created_at", "-id"
    )
    if is_platform_staff(user):
        return qs
    return qs.filter(
        Q(broadcaster=user)
        | Q(moderators__user=user)
        | Q(broadcaster__standing_moderators__user=user)
    ).distinct()


def moderators_of(*, broadcast: Broadcast) -> list[shapes.Moderator]:
    """A broadcast's moderators: appointed to it (``scope`` "broadcast") and its
    broadcaster's standing list ("standing")."""
    appointed = BroadcastModerator.objects.filter(broadcast=broadcast).select_related("user")
    standing = standing_moderators_of(broadcaster_id=broadcast.broadcaster_id)
    rows = [(m, "broadcast") for m in appointed.order_by("created_at", "id")]
    rows += [(m, "standing") for m in standing]
    return [{**moderator_data(m), "scope": scope} for m, scope in rows]


def moderator_data(
    moderator: BroadcastModerator | StandingModerator,
) -> shapes.StandingModeratorData:
    """An appointment: who, since when (``moderators_of`` adds the scope)."""
    return {"user": user_data(moderator.user), "created_at": iso(moderator.created_at)}


def standing_moderators_of(*, broadcaster_id: int) -> QuerySet[StandingModerator]:
    """A broadcaster's standing list, oldest first."""
    return (
        StandingModerator.objects.filter(broadcaster_id=broadcaster_id)
        .select_related("user")
        .order_by("created_at", "id")
    )


def broadcasts_managed_by(*, user: AbstractBaseUser) -> QuerySet[Broadcast]:
    """What a broadcaster runs; staff run them all."""
    qs = Broadcast.objects.select_related("broadcaster", "pinned_comment__author").order_by(
        "-created_at", "-id"
    )
    return qs if is_platform_staff(user) else qs.filter(broadcaster=user)


def _reaction_totals_of(broadcast_ids: Sequence[int]) -> dict[int, shapes.ReactionTotals]:
    """``reaction_totals`` of many broadcasts in one query."""
    totals = {pk: dict.fromkeys(ReactionKind.values, 0) for pk in broadcast_ids}
    for pk, kind, count in ReactionTotal.objects.filter(broadcast_id__in=broadcast_ids).values_list(
        "broadcast_id", "kind", "count"
    ):
        totals[pk][kind] = count
    return {pk: {"totals": t, "total": sum(t.values())} for pk, t in totals.items()}


def reaction_totals(*, broadcast_id: int) -> shapes.ReactionTotals:
    """``{totals: {kind: n}, total}`` from the running totals, every kind present."""
    return _reaction_totals_of([broadcast_id])[broadcast_id]


def comments_visible(*, broadcast_id: int) -> QuerySet[Comment]:
    """Comments everyone sees (not removed, not held for review), oldest first."""
    return (
        Comment.objects.filter(broadcast_id=broadcast_id, is_removed=False, is_held=False)
        .select_related("author")
        .order_by("created_at", "id")
    )


def comments_not_removed(*, broadcast_id: int) -> QuerySet[Comment]:
    """Visible and held comments: what a moderator (or the author) may still remove."""
    return Comment.objects.filter(broadcast_id=broadcast_id, is_removed=False).select_related(
        "author", "broadcast"
    )


def comments_count(*, broadcast_id: int) -> int:
    return Comment.objects.filter(
        broadcast_id=broadcast_id, is_removed=False, is_held=False
    ).count()


def _comments_counts_of(broadcast_ids: Sequence[int]) -> dict[int, int]:
    """``comments_count`` of many broadcasts in one query (absent: none)."""
    rows = (
        Comment.objects.filter(broadcast_id__in=broadcast_ids, is_removed=False, is_held=False)
        .order_by()
        .values("broadcast_id")
        .annotate(n=Count("id"))
        .values_list("broadcast_id", "n")
    )
    return dict(rows)


def viewer_count(*, broadcast_id: int) -> int:
    """People watching now, from the presence store (each signed-in user once, anonymous
    viewers once per client address: docs/presence.md)."""
    return presence.selectors.topic_viewer_count(broadcast_topic(broadcast_id))


def broadcast_topic(broadcast_id: int) -> str:
    """The real-time topic that carries one broadcast's events."""
    return f"broadcast.{broadcast_id}"


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, as the API and the stream write times."""
    return value.isoformat().replace("+00:00", "Z") if value else None


def comment_data(comment: Comment) -> shapes.CommentData:
    return {
        "id": comment.pk,
        "broadcast": comment.broadcast_id,
        "author": user_data(comment.author),
        "text": comment.text,
        "created_at": iso(comment.created_at),
    }


def pinned_data(comment: Comment | None) -> shapes.Pinned:
    """The pinned comment (None: unpinned) as ``PUT .../pinned/`` and ``comment.pinned`` show it."""
    return {"comment": comment_data(comment) if comment else None}


def status_data(broadcast: Broadcast) -> shapes.Status:
    """The ``broadcast.status`` event's data."""
    return {
        "status": broadcast.status,
        "started_at": iso(broadcast.started_at),
        "ended_at": iso(broadcast.ended_at),
    }


def broadcast_data(broadcast: Broadcast, *, viewers: int | None = None) -> shapes.BroadcastData:
    """A broadcast as the REST detail and the stream's ``hello`` show it; ``viewers``: its
    count when the caller has one (no presence-store read then)."""
    counts = None if viewers is None else {broadcast_topic(broadcast.pk): viewers}
    return broadcasts_data([broadcast], viewers=counts)[0]


def broadcasts_data(
    broadcasts: Sequence[Broadcast], *, viewers: Mapping[str, int] | None = None
) -> list[shapes.BroadcastData]:
    """Each broadcast as ``broadcast_data`` shows it, in two queries and one presence-store
    read however many there are (none when ``viewers`` gives each topic's count)."""
    ids = [b.pk for b in broadcasts]
    reactions = _reaction_totals_of(ids)
    comments = _comments_counts_of(ids)
    if viewers is None:
        viewers = presence.selectors.topic_viewer_counts([broadcast_topic(pk) for pk in ids])
    return [
        {
            "id": b.pk,
            "title": b.title,
            "description": b.description,
            "broadcaster": user_data(b.broadcaster),
            "stream_url": b.stream_url,
            "scheduled_for": iso(b.scheduled_for),
            **status_data(b),
            "reactions": reactions[b.pk],
            "viewers": viewers[broadcast_topic(b.pk)],
            "comments_count": comments.get(b.pk, 0),
            "pinned_comment": comment_data(b.pinned_comment) if b.pinned_comment else None,
            **video.video_data(b),
            "chat_rules": chat_rules(b),
        }
        for b in broadcasts
    ]


def chat_rules(broadcast: Broadcast) -> shapes.ChatRules:
    """The chat rules a viewer should know before typing (the words themselves stay private)."""
    return {
        "slow_mode_seconds": broadcast.slow_mode_seconds,
        "links_allowed": broadcast.allow_links,
        "blocked_words": bool(broadcast.blocked_words.strip()),
    }


def barred_data(ban: BroadcastBan | None) -> shapes.Barred | None:
    """A ban (``until`` null) or time-out as its viewer is told of it; None: not barred."""
    return None if ban is None else {"until": iso(ban.until), "reason": ban.reason}


def viewer_barred_data(*, user_id: int, ban: BroadcastBan | None) -> shapes.ViewerBarred:
    """A time-out, ban (``ban``) or its lifting (None) as everyone learns of it: the reason
    stays private (its viewer reads it in their own ``hello``)."""
    return {"user_id": user_id, "barred": None if ban is None else {"until": iso(ban.until)}}


def ban_data(ban: BroadcastBan) -> shapes.Ban:
    return {"user": user_data(ban.user), "created_at": iso(ban.created_at), **barred_data(ban)}


def moderation_settings(broadcast: Broadcast) -> shapes.ModerationSettings:
    return {
        "slow_mode_seconds": broadcast.slow_mode_seconds,
        "blocked_words": broadcast.blocked_words,
        "allow_links": broadcast.allow_links,
        "hold_words": broadcast.hold_words,
    }


def viewer_role(
    *, broadcast_id: int, broadcaster_id: int, user: AbstractBaseUser
) -> shapes.ViewerRole:
    """``anonymous``, ``viewer``, ``moderator``, ``broadcaster`` or ``staff``, as one broadcast
    sees a user."""
    if not user.is_authenticated:
        return "anonymous"
    if user.pk == broadcaster_id:
        return "broadcaster"
    if is_platform_staff(user):
        return "staff"
    if is_moderator(broadcast_id=broadcast_id, broadcaster_id=broadcaster_id, user=user):
        return "moderator"
    return "viewer"


def viewer_state(
    *, broadcast_id: int, broadcaster_id: int, user: AbstractBaseUser
) -> shapes.ViewerState:
    """What one viewer may do on a broadcast now: ``{role, barred}`` (the page, the ``hello``
    event's ``you``, and ``viewer.state`` events)."""
    role = viewer_role(broadcast_id=broadcast_id, broadcaster_id=broadcaster_id, user=user)
    if role == "anonymous":
        return {"role": role, "barred": None}
    ban = bans_active(broadcast_id=broadcast_id).filter(user_id=user.pk).first()
    return {"role": role, "barred": barred_data(ban)}


def bans_active(*, broadcast_id: int) -> QuerySet[BroadcastBan]:
    """Bans and time-outs still in force on a broadcast, newest first."""
    return (
        BroadcastBan.objects.filter(broadcast_id=broadcast_id)
        .filter(Q(until__isnull=True) | Q(until__gt=timezone.now()))
        .select_related("user")
        .order_by("-created_at", "-id")
    )


def moderation_actions(*, broadcast_id: int) -> QuerySet[ModerationAction]:
    """A broadcast's audit trail, newest first."""
    return ModerationAction.objects.filter(broadcast_id=broadcast_id).select_related(
        "actor", "target_user"
    )


def audit_entry_data(entry: ModerationAction) -> shapes.AuditEntry:
    return {
        "id": entry.pk,
        "action": entry.action,
        "actor": user_data(entry.actor) if entry.actor else None,
        "target_user": user_data(entry.target_user) if entry.target_user else None,
        "comment_id": entry.comment_id,
        "detail": entry.detail,
        "created_at": iso(entry.created_at),
    }


def moderation_actions_recent(*, broadcast_id: int, limit: int = 10) -> list[ModerationAction]:
    """The latest lines of a broadcast's audit trail."""
    return list(moderation_actions(broadcast_id=broadcast_id)[:limit])


def user_card(*, broadcast: Broadcast, user: AbstractBaseUser, recent: int = 10) -> shapes.UserCard:
    """What a moderator sees on clicking a name: the user, their state here and their latest
    comments in this broadcast (newest first, removed ones too, marked)."""
    comments = (
        Comment.objects.filter(broadcast=broadcast, author=user)
        .select_related("author")
        .order_by("-created_at", "-id")[:recent]
    )
    ban = bans_active(broadcast_id=broadcast.pk).filter(user_id=user.pk).first()
    return {
        "user": user_data(user),
        "role": viewer_role(
            broadcast_id=broadcast.pk, broadcaster_id=broadcast.broadcaster_id, user=user
        ),
        "barred": barred_data(ban),
        "comments": [{**comment_data(c), "removed": c.is_removed} for c in comments],
    }


def review_queue(*, broadcast_id: int) -> QuerySet[Comment]:
    """Comments waiting for a moderator, oldest first: held ones and reported visible ones."""
    return (
        Comment.objects.filter(broadcast_id=broadcast_id, is_removed=False)
        .filter(Q(is_held=True) | Q(reports__isnull=False))
        .annotate(report_count=Count("reports"))
        .select_related("author")
        .order_by("created_at", "id")
    )


def review_data(comment: Comment) -> shapes.ReviewItem:
    return {
        "comment": comment_data(comment),
        "held": comment.is_held,
        "reports": getattr(comment, "report_count", 0),
    }
