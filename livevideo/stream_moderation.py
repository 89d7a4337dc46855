"""Moderating live over a broadcast's WebSocket: the client messages a moderator sends from the
watch page, each the twin of a REST endpoint and run through the same service.

| message | REST twin |
|---|---|
| ``{"type": "comment.remove", "id": N}`` | ``DELETE .../comments/<id>/`` |
| ``{"type": "comment.pin", "id": N}`` | ``PUT .../pinned/`` |
| ``{"type": "comment.unpin"}`` | ``DELETE .../pinned/`` |
| ``{"type": "comment.approve", "id": N}`` | ``POST .../review/<id>/approve/`` |
| ``{"type": "user.timeout", "user_id": N, "seconds": S}`` | ``POST .../bans/`` with seconds |
| ``{"type": "user.ban", "user_id": N, "remove_comments": bool}`` | ``POST .../bans/`` |
| ``{"type": "user.unban", "user_id": N}`` | ``DELETE .../bans/<user_id>/`` |

Every message acts on the connection's own broadcast only: a comment of another broadcast is
``not_found`` and the permission is the one ``livevideo.permissions`` gives on this broadcast.
Done, it is answered with ``ack`` (``{"message": <type>, ...}`` and the message's ``ref``);
what viewers see arrives on the stream as for REST. Refusals are ``error`` events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from livevideo import permissions, selectors, services
from livevideo.converters import MAX_ID
from livevideo.errors import ServiceError
from livevideo.models import Broadcast, Comment
from realtime.consumers import ClientError

T = TypeVar("T")
Action = Callable[[Broadcast, AbstractBaseUser, dict[str, Any]], dict[str, Any]]


def on_broadcast(broadcast_id: int, action: Callable[[Broadcast], T]) -> T:
    """Run ``action`` on the broadcast as it is now (in the database thread); a service's
    refusal becomes a ``ClientError`` with the service's code."""
    broadcast = Broadcast.objects.select_related("broadcaster").filter(pk=broadcast_id).first()
    if broadcast is None:
        raise ClientError("not_found", "This broadcast no longer exists.")
    try:
        return action(broadcast)
    except ServiceError as exc:
        raise client_error(exc) from None


def client_error(exc: ServiceError) -> ClientError:
    """A service's refusal as the ``error`` event that answers the client (same code)."""
    retry_after = getattr(exc, "retry_after", None)
    extra = {"retry_after": retry_after} if retry_after is not None else {}
    return ClientError(exc.code, exc.message, **extra)


# Reading the message -----------------------------------------------------------------------


def _id_field(message: dict[str, Any], name: str) -> int:
    value = message.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise ClientError("invalid", f'"{name}" must be a whole number >= 1.')
    return value


def _reason(message: dict[str, Any]) -> str:
    reason = message.get("reason", "")
    if not isinstance(reason, str) or len(reason) > 200:
        raise ClientError("invalid", '"reason" must be text of at most 200 characters.')
    return reason.strip()


def _comment(broadcast: Broadcast, message: dict[str, Any], *, removed: bool = True) -> Comment:
    """The comment ``message["id"]`` names, of this broadcast only (``removed``: even a removed
    one, for the service to refuse as REST does)."""
    comments = (
        Comment.objects.filter(broadcast_id=broadcast.pk)
        if removed
        else selectors.comments_not_removed(broadcast_id=broadcast.pk)
    )
    comment = comments.select_related("author").filter(pk=_id_field(message, "id")).first()
    if comment is None:
        raise ClientError("not_found", "No such comment in this broadcast.")
    comment.broadcast = broadcast
    return comment


def _user(message: dict[str, Any]) -> AbstractBaseUser:
    user = get_user_model().objects.filter(pk=_id_field(message, "user_id")).first()
    if user is None:
        raise ClientError("not_found", "No such user.")
    return user


# The actions (database thread) -------------------------------------------------------------


def _remove(broadcast: Broadcast, actor: AbstractBaseUser, message: dict[str, Any]) -> dict:
    comment = _comment(broadcast, message, removed=False)
    services.comment_remove(comment=comment, actor=actor)
    return {"id": comment.pk}


def _pin(broadcast: Broadcast, actor: AbstractBaseUser, message: dict[str, Any]) -> dict:
    permissions.require_moderator(broadcast, actor)
    comment = _comment(broadcast, message)
    services.comment_pin(comment=comment, actor=actor)
    return {"id": comment.pk}


def _unpin(broadcast: Broadcast, actor: AbstractBaseUser, message: dict[str, Any]) -> dict:
    services.comment_unpin(broadcast=broadcast, actor=actor)
    return {}


def _approve(broadcast: Broadcast, actor: AbstractBaseUser, message: dict[str, Any]) -> dict:
    permissions.require_moderator(broadcast, actor)
    comment = _comment(broadcast, message, removed=False)
    services.comment_approve(comment=comment, actor=actor)
    return {"id": comment.pk}


def _timeout(broadcast: Broadcast, actor: AbstractBaseUser, message: dict[str, Any]) -> dict:
    permissions.require_moderator(broadcast, actor)
    user, reason = _user(message), _reason(message)
    seconds = message.get("seconds")
    if isinstance(seconds, bool):  # the service takes any int, and True is one
        raise ClientError("invalid", '"seconds" must be a whole number.')
    ban = services.user_timeout(
        broadcast=broadcast, actor=actor, user=user, seconds=seconds, reason=reason
    )
    return {"user_id": user.pk, "until": selectors.iso(ban.until)}


def _ban(broadcast: Broadcast, actor: AbstractBaseUser, message: dict[str, Any]) -> dict:
    permissions.require_moderator(broadcast, actor)
    user, reason = _user(message), _reason(message)
    remove_comments = message.get("remove_comments", False)
    if not isinstance(remove_comments, bool):
        raise ClientError("invalid", '"remove_comments" must be true or false.')
    services.user_ban(
        broadcast=broadcast,
        actor=actor,
        user=user,
        remove_comments=remove_comments,
        reason=reason,
    )
    return {"user_id": user.pk, "until": None}


def _unban(broadcast: Broadcast, actor: AbstractBaseUser, message: dict[str, Any]) -> dict:
    permissions.require_moderator(broadcast, actor)
    user = _user(message)
    services.user_unban(broadcast=broadcast, actor=actor, user=user)
    return {"user_id": user.pk}


ACTIONS: dict[str, Action] = {
    "comment.remove": _remove,
    "comment.pin": _pin,
    "comment.unpin": _unpin,
    "comment.approve": _approve,
    "user.timeout": _timeout,
    "user.ban": _ban,
    "user.unban": _unban,
}


def _carry_out(broadcast_id: int, actor: AbstractBaseUser, message: dict[str, Any]) -> dict:
    action = ACTIONS[message["type"]]
    return on_broadcast(broadcast_id, lambda broadcast: action(broadcast, actor, message))


class ModerationMessages:
    """The consumer's side: each message in ``ACTIONS`` is carried out and answered with
    ``ack``; any other goes on to the consumer's own handlers."""

    broadcast_id: int
    user: Any
    answer: Callable[[dict[str, Any], str, dict[str, Any]], None]

    async def on_message(self, message: dict[str, Any]) -> None:
        if message["type"] not in ACTIONS:
            await super().on_message(message)  # type: ignore[misc]
            return
        actor = self.user if self.user is not None else AnonymousUser()
        done = await database_sync_to_async(_carry_out)(self.broadcast_id, actor, message)
        self.answer(message, "ack", {"message": message["type"], **done})
