"""The chat rules: who may take part in a broadcast, what a comment may say, and how often.

Read-only checks, called by ``livevideo.services`` before any write. The moderators' tools
(time-outs, bans, pins, settings) are services: ``livevideo.services.moderation`` and
``livevideo.services.pins``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from livevideo.errors import InvalidInput, NotAllowed, RateLimited
from livevideo.models import Broadcast, BroadcastBan
from livevideo.ratelimit import retry_after_many
from livevideo.ratelimit.conf import rate_limits
from livevideo.write_selectors import bans_in_force

LINK_PATTERN = re.compile(
    r"(https?://|www\.|\b[a-z0-9-]+\.(com|net|org|io|ly|gg|tv|co|me|xyz|info|biz|app|dev)\b)",
    re.IGNORECASE,
)
MAX_TIMEOUT_SECONDS = 7 * 24 * 3600
MAX_SLOW_MODE_SECONDS = 3600


def words_list(text: str) -> list[str]:
    """A word list as moderators type it: one per line or comma-separated, lower-cased."""
    return [w.strip().lower() for w in re.split(r"[,\n]", text) if w.strip()]


def blocked_words_list(broadcast: Broadcast) -> list[str]:
    """The broadcast's blocked words."""
    return words_list(broadcast.blocked_words)


def _contains_any(text: str, words: list[str]) -> bool:
    lowered = text.lower()
    return any(re.search(rf"(?<!\w){re.escape(word)}(?!\w)", lowered) for word in words)


def comment_is_held(*, broadcast: Broadcast, text: str) -> bool:
    """A comment with a hold word waits for a moderator's approval."""
    return _contains_any(text, words_list(broadcast.hold_words))


def participation_refusals(
    *, broadcast: Broadcast, user_ids: Iterable[int]
) -> dict[int, NotAllowed]:
    """Refuse banned and timed-out users, in one query: the refusal of each one refused."""
    barred = participation_refusals_across(pairs=[(broadcast.pk, user_id) for user_id in user_ids])
    return {user_id: refusal for (_, user_id), refusal in barred.items()}


def participation_refusals_across(
    *, pairs: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], NotAllowed]:
    """``participation_refusals`` for ``(broadcast id, user id)`` pairs on any broadcasts (a
    batch of WebSocket comments), in one query: the refusal of each pair refused."""
    wanted = set(pairs)
    if not wanted:
        return {}
    bans = bans_in_force(broadcast_ids={b for b, _ in wanted}, user_ids={u for _, u in wanted})
    # At most one ban per broadcast and user (a constraint); the query's cross product of the
    # two id lists may hold others, which are not asked about.
    return {
        (ban.broadcast_id, ban.user_id): _ban_refusal(ban)
        for ban in bans
        if (ban.broadcast_id, ban.user_id) in wanted
    }


def _ban_refusal(ban: BroadcastBan) -> NotAllowed:
    if ban.until is None:
        return NotAllowed("You are banned from this broadcast.")
    seconds = int((ban.until - timezone.now()).total_seconds()) + 1
    return NotAllowed(f"You are timed out for {seconds} more seconds.")


def comment_text_check(*, broadcast: Broadcast, text: str) -> None:
    """Refuse blocked words, and links unless the broadcaster allows them."""
    if _contains_any(text, blocked_words_list(broadcast)):
        raise InvalidInput("Your comment contains a blocked word.", field="text")
    if not broadcast.allow_links and LINK_PATTERN.search(text):
        raise InvalidInput("Links are not allowed in this broadcast's comments.", field="text")


def _rate_refusal(wait: float, what: str) -> RateLimited | None:
    if not wait:
        return None
    # Rounded up: "try again in 0 s" would be untrue while any wait is left.
    return RateLimited(f"Too many {what}; try again in {math.ceil(wait)} s.", retry_after=wait)


def comment_rate_refusals(
    *, posts: Mapping[int, tuple[Broadcast, AbstractBaseUser, str]]
) -> dict[int, RateLimited]:
    """The per-user limit, then slow mode where a broadcast has it, for each of ``posts``
    (by position, ``(broadcast, author, text)`` on any broadcasts) in turn: one round trip to
    the rate-limit store for the per-user limit, one per slow-mode length: the refused."""
    limit, window = rate_limits().comment
    order = list(posts)
    keys = [f"comment:{posts[i][0].pk}:{posts[i][1].pk}" for i in order]
    waits = retry_after_many(keys, limit=limit, window=window)
    refusals = {i: _rate_refusal(wait, "comments") for i, wait in zip(order, waits, strict=True)}
    slow: dict[int, list[int]] = {}  # slow mode's seconds: the passing posts under it
    for i in order:
        if refusals[i] is None and posts[i][0].slow_mode_seconds:
            slow.setdefault(posts[i][0].slow_mode_seconds, []).append(i)
    for seconds, passing in slow.items():
        keys = [f"slow:{posts[i][0].pk}:{posts[i][1].pk}" for i in passing]
        for i, wait in zip(passing, retry_after_many(keys, limit=1, window=seconds), strict=True):
            if wait:
                refusals[i] = RateLimited(
                    f"Slow mode: one comment every {seconds} s.", retry_after=wait
                )
    return {i: refusal for i, refusal in refusals.items() if refusal is not None}


def reaction_rate_refusals(
    *, broadcast: Broadcast, users: list[AbstractBaseUser]
) -> list[RateLimited | None]:
    """One tap counted per user (a user may repeat), in one round trip to the rate-limit
    store; each tap's refusal or None, in order."""
    limit, window = rate_limits().reaction
    keys = [f"reaction:{broadcast.pk}:{user.pk}" for user in users]
    waits = retry_after_many(keys, limit=limit, window=window)
    return [_rate_refusal(wait, "reactions") for wait in waits]
