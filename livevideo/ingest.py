"""Reactions from WebSocket viewers, stored in batches.

Over REST a tap is one request and one transaction. Over the WebSocket the consumer hands taps
to a batcher per broadcast and event loop instead: every tap is still checked on its own
(``services.reactions_check``: signed in, known kind, live, not banned, under the rate
limit; the bans of a batch read in one query, its rate-limit hits counted in one round trip),
but the taps that arrive while one batch is being stored all go into the next one, stored in
one transaction by ``services.reactions_record`` and announced as one coalesced total. Under a
trickle a batch is a single tap and nothing waits; under a flood the database sees a few
transactions a second instead of one per tap, and the one thread that runs database work for
the event loop makes one hop per batch instead of one per tap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from channels.db import database_sync_to_async
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from livevideo import abuse, services
from livevideo.errors import ServiceError
from livevideo.models import Broadcast
from realtime.runtime import runtime

AnyUser = AbstractBaseUser | AnonymousUser  # whoever tapped, signed in or not


class BroadcastGone(Exception):
    """The broadcast was deleted while its viewers were still tapping."""


class TapBatcher:
    """Stores one broadcast's taps in batches, in arrival order."""

    def __init__(self, broadcast_id: int, batchers: dict[int, TapBatcher]) -> None:
        self.broadcast_id = broadcast_id
        self.loop = asyncio.get_running_loop()
        self._batchers = batchers  # the loop's batchers, which this one leaves once idle
        self._pending: list[tuple[AnyUser, object, str, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def tap(self, user: AnyUser, kind: object, address: str = "") -> None:
        """Store one tap from ``address`` (the client's, for the per-address limit) with the
        next batch; raises its ``ServiceError`` when it is refused (the other taps of the batch
        are stored all the same)."""
        done: asyncio.Future[None] = self.loop.create_future()
        self._pending.append((user, kind, address, done))
        if self._task is None:
            self._task = self.loop.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    refusals = await database_sync_to_async(record_taps)(
                        self.broadcast_id,
                        [(user, kind) for user, kind, _, _ in batch],
                        [address for _, _, address, _ in batch],
                    )
                except Exception as exc:  # the whole batch failed (database down, ...)
                    for *_, done in batch:
                        _settle(done, exc)
                    continue
                for (*_, done), refusal in zip(batch, refusals, strict=True):
                    _settle(done, refusal)
        finally:
            self._task = None
            # Idle: forget it (``batcher()`` makes a new one; the caller taps at once).
            if self._batchers.get(self.broadcast_id) is self:
                del self._batchers[self.broadcast_id]


def _settle(done: asyncio.Future[None], refusal: Exception | None) -> None:
    """Tell a tap's caller how it went, unless it stopped waiting (its connection closed)."""
    if done.cancelled():
        return
    if refusal is None:
        done.set_result(None)
    else:
        done.set_exception(refusal)


def record_taps(
    broadcast_id: int, taps: Sequence[tuple[AnyUser, Any]], addresses: Sequence[str] = ()
) -> list[ServiceError | None]:
    """Check each tap (its address's limit first, when ``addresses`` are given), store the
    accepted ones in one transaction; each tap's refusal or None."""
    broadcast = Broadcast.objects.filter(pk=broadcast_id).first()
    if broadcast is None:
        raise BroadcastGone(broadcast_id)
    refusals: list[ServiceError | None] = (
        list(abuse.address_rate_refusals(action="REACTION", clients=list(addresses)))
        if addresses
        else [None] * len(taps)
    )
    open_ = [i for i, refusal in enumerate(refusals) if refusal is None]
    checked = services.reactions_check(
        broadcast=broadcast,
        taps=[taps[i] for i in open_],  # type: ignore[misc]
    )
    accepted = []
    for i, clean in zip(open_, checked, strict=True):
        if isinstance(clean, str):
            accepted.append((taps[i][0], clean))
        else:
            refusals[i] = clean
    services.reactions_record(broadcast=broadcast, taps=accepted)  # type: ignore[arg-type]
    return refusals


def batcher(broadcast_id: int) -> TapBatcher:
    """The running event loop's batcher for a broadcast (the loop's batchers are a part of its
    ``realtime.runtime.Runtime``)."""
    batchers: dict[int, TapBatcher] = runtime().part(TapBatcher, dict)
    found = batchers.get(broadcast_id)
    if found is None:
        found = batchers[broadcast_id] = TapBatcher(broadcast_id, batchers)
    return found
