"""The moderation audit trail: one line per moderator action, with who did it."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from livevideo.models import Broadcast, Comment, ModerationAction


def record(
    *,
    broadcast: Broadcast,
    actor: AbstractBaseUser,
    action: str,
    target_user: AbstractBaseUser | None = None,
    comment: Comment | None = None,
    detail: str = "",
) -> ModerationAction:
    """One line in the audit trail; call inside the action's transaction."""
    return ModerationAction.objects.create(
        broadcast=broadcast,
        actor=actor if actor.is_authenticated else None,
        action=action,
        target_user=target_user,
        comment=comment,
        detail=detail[:500],
    )
