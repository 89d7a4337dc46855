"""Spam at scale: limits per client address, repeated comments, and brand-new accounts.

The per-user limits (``livevideo.moderation``) do not stop one machine with many accounts:
sign-ups, comments and reactions are also counted per client address
(``realtime.clientaddress``: trusted proxies only), across all broadcasts. A limit of 0 turns
one off. Every figure is a setting: docs/operations.md, "Limits".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from livevideo.errors import InvalidInput, NotAllowed, RateLimited, ServiceError
from livevideo.models import Broadcast
from livevideo.ratelimit import retry_after_many
from livevideo.ratelimit.conf import rate_limits
from livevideo.write_selectors import comment_texts_since

WHAT = {"SIGN_UP": "new accounts", "COMMENT": "comments", "REACTION": "reactions"}


def address_rate_check(*, action: str, client: str) -> None:
    """Count one ``action`` (``SIGN_UP``, ``COMMENT``, ``REACTION``) from ``client``."""
    [refusal] = address_rate_refusals(action=action, clients=[client])
    if refusal is not None:
        raise refusal


def address_rate_refusals(*, action: str, clients: list[str]) -> list[RateLimited | None]:
    """``address_rate_check`` for many, in turn, in one round trip to the store (a batch of
    WebSocket taps): each one's refusal, or None."""
    limit, window = rate_limits().address[action]
    counted = [i for i, client in enumerate(clients) if client]
    refusals: list[RateLimited | None] = [None] * len(clients)
    if limit <= 0 or not counted:
        return refusals
    keys = [f"address:{action}:{clients[i]}" for i in counted]
    for i, wait in zip(counted, retry_after_many(keys, limit=limit, window=window), strict=True):
        if wait:
            refusals[i] = RateLimited(
                f"Too many {WHAT[action]} from your network; try again in {math.ceil(wait)} s.",
                retry_after=wait,
            )
    return refusals


def comment_spam_refusals(
    *, posts: Mapping[int, tuple[Broadcast, AbstractBaseUser, str]]
) -> dict[int, ServiceError]:
    """Refuse, for each of ``posts`` (by position, ``(broadcast, author, clean text)`` on any
    broadcasts), an account younger than ``COMMENT_MIN_ACCOUNT_AGE``, and the same text from
    the same author on the same broadcast within ``COMMENT_DUPLICATE_WINDOW`` (an earlier post
    of the batch counts): the refused, with the recent comments of all the authors read in one
    query."""
    rules = settings.COMMENT_RULES
    refusals: dict[int, ServiceError] = {}
    min_age = rules["MIN_ACCOUNT_AGE"]
    if min_age > 0:
        young = timezone.now() - timedelta(seconds=min_age)
        for i, (_, author, _) in posts.items():
            if author.date_joined > young:
                refusals[i] = NotAllowed(
                    f"New accounts may comment {math.ceil(min_age / 60)} minutes after signing up."
                )
    window = rules["DUPLICATE_WINDOW"]
    if window > 0:
        said = comment_texts_since(
            {(b.pk, author.pk) for b, author, _ in posts.values()},
            timezone.now() - timedelta(seconds=window),
        )
        for i, (broadcast, author, text) in posts.items():
            if i in refusals:
                continue
            if (broadcast.pk, author.pk, text.lower()) in said:
                refusals[i] = InvalidInput("You have just posted the same comment.", field="text")
            said.add((broadcast.pk, author.pk, text.lower()))
    return refusals
