"""WebSocket reactions stored in batches (``livevideo.ingest``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext

from livevideo import ingest, selectors, services
from livevideo.errors import NotAllowed, RateLimited, ServiceError
from livevideo.models import Broadcast, Reaction
from tests.factories import BroadcastFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

run = database_sync_to_async


@pytest.fixture
def broadcast() -> Broadcast:
    return BroadcastFactory(live=True)


@pytest.fixture
def viewers() -> list[Any]:
    return [UserFactory(username=f"tapper{i}") for i in range(5)]


def totals(broadcast: Broadcast) -> dict[str, Any]:
    return selectors.reaction_totals(broadcast_id=broadcast.pk)


async def test_taps_arriving_together_are_all_stored(broadcast, viewers):
    taps = [ingest.batcher(broadcast.pk).tap(user, "like") for user in viewers * 2]
    await asyncio.gather(*taps)
    assert await run(Reaction.objects.filter(broadcast=broadcast).count)() == 10
    assert (await run(totals)(broadcast))["totals"]["like"] == 10


async def test_a_refused_tap_fails_alone(broadcast, viewers):
    results = await asyncio.gather(
        ingest.batcher(broadcast.pk).tap(viewers[0], "like"),
        ingest.batcher(broadcast.pk).tap(AnonymousUser(), "like"),
        ingest.batcher(broadcast.pk).tap(viewers[1], "nope"),
        ingest.batcher(broadcast.pk).tap(viewers[2], "love"),
        return_exceptions=True,
    )
    assert results[0] is None
    assert results[3] is None
    assert isinstance(results[1], ServiceError)
    assert isinstance(results[2], ServiceError)
    assert (await run(totals)(broadcast))["total"] == 2


async def test_a_caller_that_stops_waiting_does_not_stop_the_others(broadcast, viewers):
    gone = asyncio.ensure_future(ingest.batcher(broadcast.pk).tap(viewers[0], "like"))
    staying = asyncio.ensure_future(ingest.batcher(broadcast.pk).tap(viewers[1], "like"))
    await asyncio.sleep(0)  # both are in the batch being stored
    gone.cancel()  # its connection closed
    await staying
    later = await ingest.batcher(broadcast.pk).tap(viewers[2], "like")  # the batcher goes on
    assert later is None
    assert (await run(totals)(broadcast))["totals"]["like"] == 3  # the gone one's tap counts


def test_a_batch_is_one_transaction(broadcast, viewers):
    with CaptureQueriesContext(connection) as queries:
        refusals = ingest.record_taps(broadcast.pk, [(user, "like", "") for user in viewers])
    assert refusals == [None] * 5
    inserts = [q for q in queries if q["sql"].startswith('INSERT INTO "livevideo_reaction"')]
    assert len(inserts) == 1
    assert Reaction.objects.filter(broadcast=broadcast).count() == 5


async def test_a_deleted_broadcast_fails_the_batch(broadcast, viewers):
    broadcast_id = broadcast.pk
    await run(broadcast.delete)()
    with pytest.raises(ingest.BroadcastGone):
        await ingest.batcher(broadcast_id).tap(viewers[0], "like")


def test_a_batch_reads_bans_once_and_refuses_only_the_banned(broadcast, viewers):
    services.user_ban(broadcast=broadcast, actor=broadcast.broadcaster, user=viewers[1])
    with CaptureQueriesContext(connection) as queries:
        refusals = ingest.record_taps(broadcast.pk, [(user, "like", "") for user in viewers])
    assert [type(r) for r in refusals] == [type(None), NotAllowed] + [type(None)] * 3
    assert "banned" in refusals[1].message
    ban_reads = [q for q in queries if 'FROM "livevideo_broadcastban"' in q["sql"]]
    assert len(ban_reads) == 1
    assert totals(broadcast)["total"] == 4


def test_a_batch_counts_each_tap_against_its_users_rate_limit(broadcast, viewers, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "REACTION": (3, 60.0)}
    taps = (
        [(viewers[0], "like", "")] * 5
        + [(viewers[1], "love", "")]
        + [(AnonymousUser(), "like", "")]
    )
    refusals = ingest.record_taps(broadcast.pk, taps)
    assert [type(r).__name__ for r in refusals] == (
        ["NoneType"] * 3 + ["RateLimited"] * 2 + ["NoneType", "NotAllowed"]
    )
    assert all(0 < r.retry_after <= 60 for r in refusals if isinstance(r, RateLimited))
    assert totals(broadcast)["totals"] == {**totals(broadcast)["totals"], "like": 3, "love": 1}


def test_a_batch_counts_each_tap_against_its_address_first(broadcast, viewers, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "ADDRESS_REACTION": (2, 60.0)}
    addresses = ["203.0.113.7"] * 3 + ["198.51.100.2"]
    taps = [(user, "like", address) for user, address in zip(viewers, addresses, strict=False)]
    refusals = ingest.record_taps(broadcast.pk, taps)
    assert [type(r).__name__ for r in refusals] == ["NoneType"] * 2 + ["RateLimited", "NoneType"]
    assert "from your network" in refusals[2].message
    assert totals(broadcast)["total"] == 3


async def test_the_batcher_passes_each_taps_address_on(broadcast, viewers, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "ADDRESS_REACTION": (1, 60.0)}
    first = await ingest.batcher(broadcast.pk).tap(viewers[0], "like", "203.0.113.7")
    with pytest.raises(RateLimited):
        await ingest.batcher(broadcast.pk).tap(viewers[1], "like", "203.0.113.7")
    assert first is None
    assert (await run(totals)(broadcast))["total"] == 1


async def test_batches_under_a_flood_start_a_gap_apart_and_a_lone_item_at_once():
    started: list[tuple[float, int]] = []
    loop = asyncio.get_running_loop()

    def record(_: int, batch: list[int]) -> list[int]:
        started.append((loop.time(), len(batch)))
        return batch

    batcher = ingest.Batcher(1, record, {}, gap=0.2)
    before = loop.time()
    assert await batcher.submit(0) == 0  # alone: stored at once
    assert started[0][0] - before < 0.15
    await asyncio.sleep(0.25)
    flood = [batcher.submit(i) for i in range(1, 4)]
    later = asyncio.gather(*flood)
    await asyncio.sleep(0.05)
    assert await asyncio.gather(later, *(batcher.submit(i) for i in range(4, 9))) == [
        [1, 2, 3],
        *range(4, 9),
    ]
    # After a pause the first batch at once; what follows within the gap waits for it.
    assert [n for _, n in started] == [1, 3, 5]
    assert started[1][0] - started[0][0] >= 0.25
    # Timed where ``record`` runs, the database thread: a hop there may take longer for one
    # batch than for the next.
    assert 0.18 <= started[2][0] - started[1][0] < 0.35


async def test_callers_are_told_once_their_batch_is_stored_not_when_the_batcher_is_back(
    monkeypatch,
):
    back = asyncio.Event()
    hop = ingest.database_sync_to_async

    def held_on_its_way_back(function: Any) -> Any:
        async def hopped(*args: Any) -> Any:
            result = await hop(function)(*args)
            await back.wait()  # the batcher's own way back from the database thread
            return result

        return hopped

    monkeypatch.setattr(ingest, "database_sync_to_async", held_on_its_way_back)
    batcher = ingest.Batcher(1, lambda _, batch: [item * 2 for item in batch], {})
    try:
        assert await asyncio.wait_for(batcher.submit(21), timeout=5) == 42
    finally:
        back.set()


async def test_a_batch_that_fails_fails_each_of_its_callers_and_the_next_is_stored():
    def record(_: int, batch: list[int]) -> list[int]:
        if 0 in batch:
            raise RuntimeError("database down")
        return [] if 1 in batch else batch  # an outcome short for the batch: a bug

    batcher = ingest.Batcher(1, record, {})
    failed = await asyncio.gather(batcher.submit(0), batcher.submit(2), return_exceptions=True)
    assert [type(outcome) for outcome in failed] == [RuntimeError, RuntimeError]
    with pytest.raises(ValueError):
        await batcher.submit(1)
    assert await batcher.submit(3) == 3
