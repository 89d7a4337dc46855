"""Reactions: the check (signed in, known kind, live, not banned, under the rate limit) apart
from the write (rows and running totals in one transaction, announced as coalesced totals)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Case, ExpressionWrapper, F, PositiveBigIntegerField, Value, When

from livevideo import moderation, signals
from livevideo.errors import InvalidInput, ServiceError
from livevideo.models import Broadcast, Reaction, ReactionKind, ReactionTotal
from livevideo.permissions import require_participant
from livevideo.services._text import require_live


def reaction_kind_clean(kind: object) -> str:
    if not isinstance(kind, str) or kind not in ReactionKind.values:
        raise InvalidInput(
            f"Unknown reaction kind; use one of: {', '.join(ReactionKind.values)}.", field="kind"
        )
    return kind


class _TotalsMissing(Exception):
    """Some of the broadcast's total rows do not exist yet."""


def _add_to_totals(broadcast_id: int, counts: dict[str, int]) -> None:
    """Add ``counts`` (by kind) to the broadcast's running totals: the kinds of a batch in
    one statement."""
    totals = ReactionTotal.objects.filter(broadcast_id=broadcast_id)
    added = Case(*(When(kind=kind, then=Value(n)) for kind, n in counts.items()))
    # Rows locked in kind order (PostgreSQL; SQLite has one writer at a time): two processes
    # storing a broadcast's taps at once would otherwise deadlock, each holding a kind the
    # other waits for.
    in_order = totals.filter(kind__in=counts).order_by("kind").select_for_update().values("pk")
    try:
        with transaction.atomic():
            updated = ReactionTotal.objects.filter(pk__in=in_order).update(
                count=F("count") + ExpressionWrapper(added, output_field=PositiveBigIntegerField())
            )
            if updated != len(counts):
                raise _TotalsMissing  # undone: added one kind at a time below
    except _TotalsMissing:
        pass
    else:
        return
    # A broadcast made outside broadcast_create has no total rows yet.
    for kind, n in sorted(counts.items()):
        if totals.filter(kind=kind).update(count=F("count") + n):
            continue
        try:
            with transaction.atomic():
                ReactionTotal.objects.create(broadcast_id=broadcast_id, kind=kind, count=n)
        except IntegrityError:  # made meanwhile by another writer
            totals.filter(kind=kind).update(count=F("count") + n)


def reactions_record(*, broadcast: Broadcast, taps: Iterable[tuple[AbstractBaseUser, str]]) -> int:
    """Store many taps on one live broadcast in one transaction; returns how many were stored.

    Each tap is ``(user, kind)`` and must already be checked (signed in, known kind).
    """
    rows = [Reaction(broadcast_id=broadcast.pk, user=user, kind=kind) for user, kind in taps]
    if not rows:
        return 0
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.kind] = counts.get(row.kind, 0) + 1
    with transaction.atomic():
        Reaction.objects.bulk_create(rows)
        _add_to_totals(broadcast.pk, counts)
        signals.reaction_recorded.send_on_commit(Reaction, broadcast_id=broadcast.pk, counts=counts)
    return len(rows)


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
