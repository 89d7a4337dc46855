"""Moderators: appointed per broadcast, or kept on a broadcaster's standing list for all their
broadcasts. Only a broadcast's managers (its broadcaster, staff) appoint; each change audited."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from livevideo import signals
from livevideo.errors import InvalidInput
from livevideo.models import (
    Broadcast,
    BroadcastBan,
    BroadcastModerator,
    ModerationAction,
    StandingModerator,
)
from livevideo.permissions import require_manager, require_standing_list
from livevideo.services.audit import record


def moderator_appoint_check(
    *, broadcast: Broadcast, actor: AbstractBaseUser, user: AbstractBaseUser
) -> None:
    require_manager(broadcast, actor)
    if user.pk == broadcast.broadcaster_id:
        raise InvalidInput("The broadcaster moderates already.", field="user_id")
    if not user.is_active:
        raise InvalidInput("This account is not active.", field="user_id")


def moderator_appoint(
    *, broadcast: Broadcast, actor: AbstractBaseUser, user: AbstractBaseUser
) -> BroadcastModerator:
    """Make ``user`` a moderator of ``broadcast`` (again: no change). A time-out or ban of
    theirs on it is lifted: a moderator takes part."""
    moderator_appoint_check(broadcast=broadcast, actor=actor, user=user)
    with transaction.atomic():
        moderator, created = BroadcastModerator.objects.get_or_create(
            broadcast=broadcast, user=user, defaults={"appointed_by": actor}
        )
        if created:
            record(
                broadcast=broadcast,
                actor=actor,
                action=ModerationAction.Action.APPOINT_MODERATOR,
                target_user=user,
            )
            if broadcast.bans.filter(user=user).delete()[0]:
                signals.viewer_barred.send_on_commit(
                    BroadcastBan,
                    broadcast=broadcast,
                    user_id=user.pk,
                    ban=None,
                )
    return moderator


def moderator_remove(
    *, broadcast: Broadcast, actor: AbstractBaseUser, user: AbstractBaseUser
) -> None:
    """Take back ``user``'s appointment to ``broadcast`` (a standing moderator stays one:
    the broadcaster removes them from the standing list)."""
    require_manager(broadcast, actor)
    with transaction.atomic():
        deleted, _ = BroadcastModerator.objects.filter(broadcast=broadcast, user=user).delete()
        if not deleted:
            if StandingModerator.objects.filter(
                broadcaster_id=broadcast.broadcaster_id, user=user
            ).exists():
                raise InvalidInput(
                    "A standing moderator of this broadcaster: remove them from the standing list.",
                    field="user_id",
                )
            raise InvalidInput("Not a moderator of this broadcast.", field="user_id")
        record(
            broadcast=broadcast,
            actor=actor,
            action=ModerationAction.Action.REMOVE_MODERATOR,
            target_user=user,
        )


def standing_moderator_add(
    *, broadcaster: AbstractBaseUser, user: AbstractBaseUser
) -> StandingModerator:
    """Put ``user`` on ``broadcaster``'s standing list: a moderator of all their broadcasts."""
    require_standing_list(broadcaster)
    if user.pk == broadcaster.pk:
        raise InvalidInput("You moderate your own broadcasts already.", field="user_id")
    moderator, _ = StandingModerator.objects.get_or_create(broadcaster=broadcaster, user=user)
    return moderator


def standing_moderator_remove(*, broadcaster: AbstractBaseUser, user: AbstractBaseUser) -> None:
    if not StandingModerator.objects.filter(broadcaster=broadcaster, user=user).delete()[0]:
        raise InvalidInput("Not on your standing list.", field="user_id")
