"""Writes stored in batches: WebSocket taps, and REST reactions and comments.

Over the WebSocket the consumer hands taps to a batcher per broadcast and event loop: every
tap is still checked on its own (``services.reactions_check``: signed in, known kind, live,
not banned, under the rate limit; the bans of a batch read in one query, its rate-limit hits
counted in one round trip), but the taps that arrive while one batch is being stored all go
into the next one, stored in one transaction by ``services.reactions_record`` and announced as
one coalesced total. Under a trickle a batch is a single tap and nothing waits; under a flood
the database sees a few transactions a second instead of one per tap, and the one thread that
runs database work for the event loop makes one hop per batch instead of one per tap.

``Batcher`` is that mechanism for any write: REST posts use it too (``livevideo.api.writes``).
"""

from __future__ import annotations

import asyncio
import contextvars
import math
from collections.abc import Callable, Sequence
from typing import Any

from channels.db import database_sync_to_async
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from livevideo import abuse, services
from livevideo.models import Broadcast, Comment
from livevideo.write_selectors import broadcasts_by_id
from realtime.runtime import runtime

AnyUser = AbstractBaseUser | AnonymousUser  # whoever tapped, signed in or not


class BroadcastGone(Exception):
    """The broadcast was deleted while its viewers were still tapping."""


Record = Callable[[int, list[Any]], Sequence[object]]


class Batcher:
    """Stores one broadcast's items of one kind in batches, in arrival order: ``record``
    (called in the database thread with the broadcast's id and a batch) stores a batch and
    returns each item's outcome; an exception as outcome is raised to that item's caller,
    and an exception raised by ``record`` to every caller of the batch."""

    def __init__(
        self, broadcast_id: int, record: Record, batchers: dict[Any, Batcher], gap: float = 0.0
    ) -> None:
        self.broadcast_id = broadcast_id
        self.record = record
        # Seconds from the start of one batch to the next at the least: under a flood, fewer
        # and bigger batches (a batch's queries cost about the same for one post as for
        # fifty), at the cost of up to ``gap`` of waiting; a post more than ``gap`` after the
        # last batch started is stored at once.
        self.gap = gap
        self.loop = asyncio.get_running_loop()
        self._batchers = batchers  # the loop's batchers, which this one leaves once idle
        self._pending: list[tuple[Any, asyncio.Future[Any]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: Any) -> Any:
        """Store ``item`` with the next batch; its outcome."""
        done: asyncio.Future[Any] = self.loop.create_future()
        self._pending.append((item, done))
        if self._task is None:
            # In a context of its own: it stores the posts of many requests, so it must not
            # run in the first one's (a ``ThreadSensitiveContext`` would send its database
            # work to that request's thread, gone once it is answered).
            self._task = self.loop.create_task(self._drain(), context=contextvars.Context())
        return await done

    async def _drain(self) -> None:
        started = -math.inf
        try:
            while True:
                wait = started + self.gap - self.loop.time()
                if wait > 0:  # what arrives meanwhile goes into the next batch
                    await asyncio.sleep(wait)
                if not self._pending:
                    break
                started = self.loop.time()
                batch, self._pending = self._pending, []
                try:
                    await database_sync_to_async(self._store)(batch)
                except Exception as exc:  # the hop failed, not the batch's own work
                    _settle([(done, exc) for _, done in batch])
        finally:
            self._task = None
            # Idle: forget it (``batcher_for()`` makes a new one; the caller submits at once).
            key = (self.record, self.broadcast_id)
            if self._batchers.get(key) is self:
                del self._batchers[key]

    def _store(self, batch: list[tuple[Any, asyncio.Future[Any]]]) -> None:
        """In the database thread: store a batch, and have the loop tell its callers as soon
        as it can. (Awaiting the result here first would take the loop three turns more to
        pass it on, each a wait for a step of the fan-out under load: docs/performance.md.)"""
        try:
            outcomes = self.record(self.broadcast_id, [item for item, _ in batch])
            settled = list(zip([done for _, done in batch], outcomes, strict=True))
        except Exception as exc:  # the whole batch failed (database down, ...)
            settled = [(done, exc) for _, done in batch]
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(_settle, settled)


def _settle(settled: list[tuple[asyncio.Future[Any], object]]) -> None:
    """Tell each item's caller how it went, unless it stopped waiting (its connection
    closed) or was told already."""
    for done, outcome in settled:
        if done.done():
            continue
        if isinstance(outcome, BaseException):
            done.set_exception(outcome)
        else:
            done.set_result(outcome)


def batcher_for(broadcast_id: int, record: Record, gap: float = 0.0) -> Batcher:
    """The running event loop's batcher of ``record`` for a broadcast (the loop's batchers
    are a part of its ``realtime.runtime.Runtime``), its batches ``gap`` seconds apart at
    the least."""
    batchers: dict[Any, Batcher] = runtime().part(Batcher, dict)
    found = batchers.get((record, broadcast_id))
    if found is None:
        found = batchers[record, broadcast_id] = Batcher(broadcast_id, record, batchers, gap)
    return found


class TapBatcher:
    """A broadcast's WebSocket taps, stored in batches."""

    def __init__(self, broadcast_id: int) -> None:
        self._batcher = batcher_for(broadcast_id, record_taps)

    async def tap(self, user: AnyUser, kind: object, address: str = "") -> None:
        """Store one tap from ``address`` (the client's, for the per-address limit) with the
        next batch; raises its ``ServiceError`` when it is refused (the other taps of the batch
        are stored all the same)."""
        await self._batcher.submit((user, kind, address))


def batcher(broadcast_id: int) -> TapBatcher:
    """The running event loop's batcher of a broadcast's taps."""
    return TapBatcher(broadcast_id)


async def comment(broadcast_id: int, author: AnyUser, text: object, address: str) -> Comment:
    """Store a WebSocket comment from ``address`` with the loop's next batch of comments;
    the stored comment, or raises its refusal (a ``ServiceError``, or ``BroadcastGone``)."""
    return await batcher_for(EVERY_BROADCAST, record_comments).submit(
        (broadcast_id, author, text, address)
    )


# The key of the loop's one batcher of WebSocket comments: a broadcast gets a comment now and
# then, many broadcasts many, so one batch takes them whatever their broadcast.
EVERY_BROADCAST = 0


# What a batch holds: who sent it, what they sent, and from which address.
Sent = tuple[AnyUser, object, str]
Create = Callable[[Broadcast, list[tuple[AnyUser, object]]], Sequence[object]]


def record_taps(broadcast_id: int, batch: list[Sent]) -> list[object]:
    """A batch of a broadcast's taps, checked each on its own and stored in one transaction
    (``services.reactions_check`` and ``reactions_record``); each one's refusal or None."""

    def create(broadcast: Broadcast, taps: list[tuple[AnyUser, object]]) -> Sequence[object]:
        return services.reactions_create_batch(broadcast=broadcast, taps=taps)  # type: ignore[arg-type]

    return _under_address_limit(broadcast_id, "REACTION", batch, create)


def record_comments(_: int, batch: list[tuple[int, AnyUser, object, str]]) -> list[object]:
    """A batch of WebSocket comments on any broadcasts, checked and stored as over REST but
    all together (``services.comments_create_across``): the broadcasts read in one query,
    the addresses' limits counted in one round trip, each rule's reads made once and the
    accepted stored in one transaction, whatever the broadcasts; each one's outcome."""
    broadcasts = broadcasts_by_id({broadcast_id for broadcast_id, *_ in batch})
    outcomes: list[object] = [
        None if broadcast_id in broadcasts else BroadcastGone(broadcast_id)
        for broadcast_id, *_ in batch
    ]
    on = [i for i, outcome in enumerate(outcomes) if outcome is None]  # on a broadcast still
    limited = abuse.address_rate_refusals(action="COMMENT", clients=[batch[i][3] for i in on])
    for i, refusal in zip(on, limited, strict=True):
        outcomes[i] = refusal
    open_ = [i for i in on if outcomes[i] is None]
    created = services.comments_create_across(
        posts=[(broadcasts[batch[i][0]], batch[i][1], batch[i][2]) for i in open_]  # type: ignore[misc]
    )
    for i, outcome in zip(open_, created, strict=True):
        outcomes[i] = outcome
    return outcomes


def _under_address_limit(
    broadcast_id: int, action: str, batch: list[Sent], create: Create
) -> list[object]:
    """Count each item against its address's limit first (as over REST), then ``create`` the
    rest on the broadcast; each item's outcome (a refusal is a ``ServiceError``)."""
    broadcast = broadcasts_by_id([broadcast_id]).get(broadcast_id)
    if broadcast is None:
        raise BroadcastGone(broadcast_id)
    outcomes: list[object] = list(
        abuse.address_rate_refusals(action=action, clients=[address for *_, address in batch])
    )
    open_ = [i for i, refusal in enumerate(outcomes) if refusal is None]
    created = create(broadcast, [(batch[i][0], batch[i][1]) for i in open_])
    for i, outcome in zip(open_, created, strict=True):
        outcomes[i] = outcome
    return outcomes
