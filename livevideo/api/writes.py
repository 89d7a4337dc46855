"""REST reactions and comments stored in batches: the database side of ``writepath``.

A batch is the posts to one broadcast that arrived while the previous batch was being stored
(``livevideo.ingest.Batcher``). It is checked and stored in one hop to the database thread,
each post on its own and in the order of the DRF view (``livevideo.api.views``): who is
asking (token or session, read for the whole batch: a revoked token or a ban is refused from
the next batch on), the broadcast (404), the client address's limit, the input (400, found
on the event loop), then the service's rules and the write (``services.reactions_check`` and
``reactions_record``, ``services.comments_check`` and ``comments_record``): one transaction
per batch, its events sent once it commits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from rest_framework import exceptions

from livevideo import abuse, selectors, services
from livevideo.models import Broadcast, Comment
from livevideo.sqltext import read_together
from livevideo.write_selectors import broadcasts_by_id_query, users_by_token_query
from realtime.auth import user_for_session

ACCEPTED = "accepted"  # a reaction's outcome: stored (202 ``{"accepted": true}``)


@dataclass(frozen=True, slots=True)
class Post:
    """One REST write as the event loop read it: the credential, the client's address, and
    the validated input or why it is not valid."""

    address: str
    token: str | None = None  # ``Authorization: Token <key>``
    session: str | None = None  # the session cookie (when there is no token)
    csrf_refusal: exceptions.APIException | None = None  # for a session that is signed in
    data: dict[str, Any] | None = None
    invalid: Exception | None = None  # 400 (or 415), answered after the address limit


NOT_FOUND = "No Broadcast matches the given query."  # the view's get_object_or_404 says so
Outcome = Any  # what a post's caller gets: ACCEPTED, a Comment, or an exception to answer


def record_reactions(broadcast_id: int, posts: list[Post]) -> list[Outcome]:
    """Check and store a batch of REST reactions; each one's outcome."""

    def store(broadcast: Broadcast, taps: list[tuple[AbstractBaseUser, Any]]) -> list[Outcome]:
        refusals = services.reactions_create_batch(broadcast=broadcast, taps=taps)
        return [ACCEPTED if refusal is None else refusal for refusal in refusals]

    return _record(broadcast_id, posts, "REACTION", "kind", store)


def record_comments(broadcast_id: int, posts: list[Post]) -> list[Outcome]:
    """Check and store a batch of REST comments; each one's outcome (the stored Comment)."""

    def store(broadcast: Broadcast, said: list[tuple[AbstractBaseUser, Any]]) -> list[Outcome]:
        return services.comments_create_batch(broadcast=broadcast, posts=said)

    return _record(broadcast_id, posts, "COMMENT", "text", store)


Store = Callable[[Broadcast, list[tuple[AbstractBaseUser, Any]]], list[Outcome]]


def _record(
    broadcast_id: int, posts: list[Post], action: str, field: str, store: Store
) -> list[Outcome]:
    tokens, broadcasts = read_together(  # one round trip on PostgreSQL
        users_by_token_query({post.token for post in posts if post.token}),
        broadcasts_by_id_query([broadcast_id]),
    )
    outcomes: list[Outcome] = _authenticate(posts, tokens)
    broadcast = broadcasts.get(broadcast_id)
    waiting = [i for i, o in enumerate(outcomes) if isinstance(o, AbstractBaseUser)]
    if broadcast is None:
        for i in waiting:
            outcomes[i] = exceptions.NotFound(NOT_FOUND)
        return outcomes
    limited = abuse.address_rate_refusals(
        action=action, clients=[posts[i].address for i in waiting]
    )
    for i, refusal in zip(waiting, limited, strict=True):
        outcomes[i] = refusal or posts[i].invalid or outcomes[i]
    waiting = [i for i in waiting if isinstance(outcomes[i], AbstractBaseUser)]
    stored = store(broadcast, [(outcomes[i], posts[i].data[field]) for i in waiting])  # type: ignore[index]
    for i, outcome in zip(waiting, stored, strict=True):
        outcomes[i] = outcome
    return outcomes


def _authenticate(
    posts: Sequence[Post], tokens: Mapping[str, AbstractBaseUser]
) -> list[AbstractBaseUser | Exception]:
    """Each post's user, or why it has none, as DRF's token and session authentication and
    ``IsAuthenticatedOrReadOnly`` answer (401; 403 for a failed CSRF check); ``tokens``: the
    users of the batch's tokens (``users_by_token``)."""
    users: list[AbstractBaseUser | Exception] = []
    for post in posts:
        if post.token:
            user = tokens.get(post.token)
            if user is None:
                users.append(exceptions.AuthenticationFailed("Invalid token."))
            elif not user.is_active:
                users.append(exceptions.AuthenticationFailed("User inactive or deleted."))
            else:
                users.append(user)
            continue
        user = user_for_session(post.session) if post.session else None
        if user is None or not user.is_authenticated or not user.is_active:
            users.append(exceptions.NotAuthenticated())
        else:
            users.append(post.csrf_refusal or user)  # type: ignore[arg-type]
    return users


def comment_answer(comment: Comment) -> tuple[int, dict[str, Any]]:
    """The status and body a stored comment is answered with."""
    if comment.is_held:  # stored, not shown: a moderator approves it first
        return 202, {**selectors.comment_data(comment), "held": True}
    return 201, dict(selectors.comment_data(comment))
