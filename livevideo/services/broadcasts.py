"""Broadcasts: create, edit, start and end."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from livevideo import selectors, signals
from livevideo.errors import NotAllowed, WrongStatus
from livevideo.models import Broadcast, BroadcastStatus, ReactionKind, ReactionTotal
from livevideo.permissions import can_broadcast, require_manager
from livevideo.services._text import clean_text, clean_url

BROADCASTERS_GROUP = selectors.BROADCASTERS_GROUP
TITLE_MAX = 200
DESCRIPTION_MAX = 5000


def broadcast_create(
    *,
    broadcaster: AbstractBaseUser,
    title: str,
    description: str = "",
    stream_url: str = "",
    scheduled_for: datetime | None = None,
) -> Broadcast:
    """Create a scheduled broadcast; its creator (a broadcaster) becomes its broadcaster."""
    if not broadcaster.is_authenticated:
        raise NotAllowed("Sign in to create a broadcast.")
    if not can_broadcast(broadcaster):
        raise NotAllowed("Only broadcasters may create broadcasts; staff can make you one.")
    broadcast = Broadcast(
        broadcaster=broadcaster,
        title=clean_text(title, field="title", max_length=TITLE_MAX, required=True),
        description=clean_text(
            description, field="description", max_length=DESCRIPTION_MAX, required=False
        ),
        stream_url=clean_url(stream_url),
        scheduled_for=scheduled_for,
    )
    with transaction.atomic():
        broadcast.save()
        ReactionTotal.objects.bulk_create(
            [ReactionTotal(broadcast=broadcast, kind=kind) for kind in ReactionKind.values]
        )
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
    require_manager(broadcast, actor)
    broadcast.title = clean_text(title, field="title", max_length=TITLE_MAX, required=True)
    broadcast.description = clean_text(
        description, field="description", max_length=DESCRIPTION_MAX, required=False
    )
    broadcast.stream_url = clean_url(stream_url)
    broadcast.scheduled_for = scheduled_for
    broadcast.save(update_fields=["title", "description", "stream_url", "scheduled_for"])
    return broadcast


def _transition(
    *, broadcast: Broadcast, actor: AbstractBaseUser, source: str, target: str, stamp: str
) -> Broadcast:
    require_manager(broadcast, actor)
    with transaction.atomic():
        # Lock the row so two concurrent "start" calls cannot both succeed.
        locked = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        if locked.status != source:
            raise WrongStatus(f"A {locked.status} broadcast cannot become {target}.")
        locked.status = target
        setattr(locked, stamp, timezone.now())
        locked.save(update_fields=["status", stamp])
        signals.broadcast_status_changed.send_on_commit(Broadcast, broadcast=locked)
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
