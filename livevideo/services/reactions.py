"""Reactions: the check (signed in, known kind, live, not banned, under the rate limit) apart
from the write (rows and running totals in one transaction, announced as coalesced totals)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from livevideo import moderation, signals
from livevideo.errors import InvalidInput, ServiceError
from livevideo.models import Broadcast, Reaction, ReactionKind, ReactionTotal
from livevideo.permissions import require_participant
from livevideo.services._text import require_live
from livevideo.sqltext import Statement, db_value, execute_together, inserts, placeholders, table

# Checked for every tap: the enum's ``values`` builds a new list at each read.
KINDS = frozenset(ReactionKind.values)


def reaction_kind_clean(kind: object) -> str:
    if not isinstance(kind, str) or kind not in KINDS:
        raise InvalidInput(
            f"Unknown reaction kind; use one of: {', '.join(ReactionKind.values)}.", field="kind"
        )
    return kind


def reactions_record(*, broadcast: Broadcast, taps: Iterable[tuple[AbstractBaseUser, str]]) -> int:
    """Store many taps on one live broadcast in one transaction, with the running totals;
    returns how many were stored.

    Each tap is ``(user, kind)`` and must already be checked (signed in, known kind).
    """
    now = db_value(Reaction, "created_at", timezone.now())
    rows = [(broadcast.pk, user.pk, kind, now) for user, kind in taps]
    if not rows:
        return 0
    counts: dict[str, int] = {}
    for _, _, kind, _ in rows:
        counts[kind] = counts.get(kind, 0) + 1
    names = ("broadcast_id", "user_id", "kind", "created_at")
    execute_together([*inserts(Reaction, names, rows), _totals_added(broadcast.pk, counts)])
    signals.reaction_recorded.send_on_commit(Reaction, broadcast_id=broadcast.pk, counts=counts)
    return len(rows)


def _totals_added(broadcast_id: int, counts: dict[str, int]) -> Statement:
    """The statement that adds ``counts`` (by kind) to the broadcast's running totals, making
    the rows a broadcast made outside ``broadcast_create`` lacks. The rows are taken in kind
    order: two processes storing a broadcast's taps at once would otherwise deadlock on
    PostgreSQL, each holding a kind the other waits for. (PostgreSQL takes an id from the
    sequence for each row offered, even one that only adds: ids are 64-bit.)"""
    kinds = sorted(counts)
    return (
        f"INSERT INTO {table(ReactionTotal)} (broadcast_id, kind, count)"
        f" VALUES {placeholders(len(kinds), 3)}"
        " ON CONFLICT (broadcast_id, kind)"
        f" DO UPDATE SET count = {table(ReactionTotal)}.count + excluded.count",
        [value for kind in kinds for value in (broadcast_id, kind, counts[kind])],
    )


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
            require_participant(user)
            clean = reaction_kind_clean(kind)
            require_live(broadcast, "Reactions are accepted")
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


def reactions_create_batch(
    *, broadcast: Broadcast, taps: Sequence[tuple[AbstractBaseUser, object]]
) -> list[ServiceError | None]:
    """Check many ``(user, kind)`` taps each on its own (``reactions_check``) and store the
    accepted in one transaction (``reactions_record``); each tap's refusal, or None."""
    checked = reactions_check(broadcast=broadcast, taps=taps)
    reactions_record(
        broadcast=broadcast,
        taps=[(user, c) for (user, _), c in zip(taps, checked, strict=True) if isinstance(c, str)],
    )
    return [None if isinstance(c, str) else c for c in checked]
