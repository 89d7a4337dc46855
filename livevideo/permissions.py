"""Who may do what to a broadcast: one place for every permission rule.

Services call the ``require_*`` helpers before they write; views, the API and the admin call the
``can_*`` questions to decide what to show. Neither writes anything.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from livevideo import selectors
from livevideo.errors import NotAllowed
from livevideo.models import Broadcast, Comment


def can_broadcast(user: AbstractBaseUser) -> bool:
    """Members of the ``broadcasters`` group (staff grant it in the admin) and platform staff
    may create broadcasts; any other signed-up account watches, reacts and comments."""
    if not user.is_authenticated:
        return False
    return (
        selectors.is_platform_staff(user)
        or user.groups.filter(name=selectors.BROADCASTERS_GROUP).exists()
    )


def can_see_every_broadcast(user: AbstractBaseUser) -> bool:
    """Platform staff run and moderate every broadcast; a broadcaster, only their own."""
    return selectors.is_platform_staff(user)


def can_manage(*, broadcast: Broadcast, actor: AbstractBaseUser) -> bool:
    """The broadcaster and platform staff run a broadcast: edit, start, end, appoint."""
    return bool(
        actor.is_authenticated
        and (broadcast.broadcaster_id == actor.pk or can_see_every_broadcast(actor))
    )


def can_moderate(*, broadcast: Broadcast, actor: AbstractBaseUser) -> bool:
    """Who may remove and pin comments, time out and ban, and set the chat rules on a
    broadcast: its managers and its moderators (appointed to it, or on its broadcaster's
    standing list). A moderator of one broadcast has no power over any other."""
    return can_manage(broadcast=broadcast, actor=actor) or selectors.is_moderator(
        broadcast_id=broadcast.pk, broadcaster_id=broadcast.broadcaster_id, user=actor
    )


def can_remove_comment(*, comment: Comment, actor: AbstractBaseUser) -> bool:
    """Its author, and whoever moderates its broadcast."""
    is_author = actor.is_authenticated and comment.author_id == actor.pk
    return is_author or can_moderate(broadcast=comment.broadcast, actor=actor)


def require_manager(broadcast: Broadcast, actor: AbstractBaseUser) -> None:
    if not can_manage(broadcast=broadcast, actor=actor):
        raise NotAllowed("Only the broadcaster or staff may do this.")


def require_moderator(broadcast: Broadcast, actor: AbstractBaseUser) -> None:
    if not can_moderate(broadcast=broadcast, actor=actor):
        raise NotAllowed(
            "Only the broadcaster, its moderators or staff may moderate this broadcast."
        )


def require_comment_remover(comment: Comment, actor: AbstractBaseUser) -> None:
    if not can_remove_comment(comment=comment, actor=actor):
        raise NotAllowed(
            "Only the author, the broadcaster, a moderator or staff may remove this comment."
        )


def require_standing_list(user: AbstractBaseUser) -> None:
    """A standing list of moderators (for all of one's broadcasts) is for broadcasters."""
    if not can_broadcast(user):
        raise NotAllowed("Only broadcasters keep a standing list of moderators.")


def require_participant(user: AbstractBaseUser) -> None:
    if not user.is_authenticated:
        raise NotAllowed("Sign in to take part.")
