"""The reads a batch of writes makes: who the tokens belong to, the broadcasts, the bans in
force and what the authors just said. Each is one statement a batch, as SQL text
(``livevideo.sqltext``: the ORM's building of them cost more than running them); those a
batch makes before it knows anything else (its tokens, its broadcasts) are also queries to
send together (``sqltext.read_together``)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from rest_framework.authtoken.models import Token

from livevideo.models import Broadcast, BroadcastBan, Comment
from livevideo.sqltext import (
    Query,
    Rows,
    columns,
    db_value,
    fetch,
    instances,
    placeholders,
    read,
    table,
)

# Pairs per statement of ``comment_texts_since`` (two parameters each; SQLite's default limit
# is 32,766).
PAIRS_PER_STATEMENT = 500


def users_by_token(keys: Collection[str]) -> dict[str, AbstractBaseUser]:
    """The user each of ``keys`` (DRF tokens) belongs to, by key; unknown keys are left out
    (inactive users are not: callers refuse them)."""
    return read(users_by_token_query(keys))


def users_by_token_query(keys: Collection[str]) -> Query[dict[str, AbstractBaseUser]]:
    """``users_by_token`` as a query."""
    if not keys:
        return Query("", (), _users_by_key)
    user = get_user_model()
    return Query(
        f"SELECT t.key, {columns(user, 'u')} FROM {table(Token)} t"
        f" JOIN {table(user)} u ON u.id = t.user_id"
        f" WHERE t.key IN ({placeholders(len(keys))})",
        list(keys),
        _users_by_key,
    )


def _users_by_key(rows: Rows) -> dict[str, AbstractBaseUser]:
    users = instances(get_user_model(), rows, start=1)
    return dict(zip([row[0] for row in rows], users, strict=True))


def broadcasts_by_id(ids: Collection[int]) -> dict[int, Broadcast]:
    """The broadcasts of ``ids`` that exist, by id."""
    return read(broadcasts_by_id_query(ids))


def broadcasts_by_id_query(ids: Collection[int]) -> Query[dict[int, Broadcast]]:
    """``broadcasts_by_id`` as a query."""
    if not ids:
        return Query("", (), _broadcasts_by_id)
    return Query(
        f"SELECT {columns(Broadcast, 'b')} FROM {table(Broadcast)} b"
        f" WHERE b.id IN ({placeholders(len(ids))})",
        list(ids),
        _broadcasts_by_id,
    )


def _broadcasts_by_id(rows: Rows) -> dict[int, Broadcast]:
    return {broadcast.pk: broadcast for broadcast in instances(Broadcast, rows)}


def bans_in_force(
    *, broadcast_ids: Collection[int], user_ids: Collection[int]
) -> list[BroadcastBan]:
    """Bans and time-outs still in force on any of the broadcasts for any of the users (each
    broadcast with each user: callers pick the pairs they asked about)."""
    if not broadcast_ids or not user_ids:
        return []
    now = db_value(BroadcastBan, "until", timezone.now())
    rows = fetch(
        f"SELECT {columns(BroadcastBan, 'x')} FROM {table(BroadcastBan)} x"
        f" WHERE x.broadcast_id IN ({placeholders(len(broadcast_ids))})"
        f" AND x.user_id IN ({placeholders(len(user_ids))})"
        f" AND (x.until IS NULL OR x.until > %s)",
        [*broadcast_ids, *user_ids, now],
    )
    return instances(BroadcastBan, rows)


def comment_texts_since(
    pairs: Collection[tuple[int, int]], since: datetime
) -> set[tuple[int, int, str]]:
    """What each ``(broadcast id, author id)`` pair's author said on that broadcast since
    ``since``, as ``(broadcast id, author id, lower-cased text)``."""
    said: set[tuple[int, int, str]] = set()
    ordered = sorted(pairs)
    after = db_value(Comment, "created_at", since)
    for start in range(0, len(ordered), PAIRS_PER_STATEMENT):
        chunk = ordered[start : start + PAIRS_PER_STATEMENT]
        # Each broadcast with its own authors only (an index scan of one broadcast's recent
        # comments per pair), not every broadcast with every author: a row-value IN.
        rows = fetch(
            f"SELECT broadcast_id, author_id, text FROM {table(Comment)}"
            f" WHERE (broadcast_id, author_id) IN ({placeholders(len(chunk), 2)})"
            f" AND created_at >= %s",
            [*(value for pair in chunk for value in pair), after],
        )
        said.update((b, a, text.lower()) for b, a, text in rows)
    return said
