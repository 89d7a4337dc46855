"""A broadcast outlives its home region, and a partition does not stop either side's writes:
a region that cannot reach the regions before it in the broadcast's order numbers the
broadcast itself, in a lineage of ids above every id it has seen, and its clients (and those of
the regions that follow it) refetch once (``reset``); when the home is back it takes the
broadcast back, above every lineage, and the clients that were on another lineage (or missed
its events) refetch once more. Never a silent gap, never one id for two events."""

from __future__ import annotations

import asyncio

import pytest

from realtime.protocol import RESET, Event
from realtime.regions import Lineage
from tests.realtime.regions.test_across import hub_of, watch
from tests.realtime.test_history import Collector, append

pytestmark = [pytest.mark.redis, pytest.mark.regions]


def story(viewer: Collector) -> list[tuple[str, int]]:
    """What a viewer was handed: each event's type and id, or a reset and where ids go on."""
    return [
        (RESET, e.data["last_event_id"]) if e.type == RESET else (e.type, e.id)
        for e in viewer.events
        if e.type == RESET or e.id is not None
    ]


def assert_no_silent_gap(events: list[Event]) -> None:
    """Each event follows the one before it, or a reset that says where the ids go on."""
    last = None
    for event in events:
        if event.type == RESET:
            last = event.data["last_event_id"]
        elif event.id is not None:
            assert last is None or event.id == last + 1, (last, event.id)
            last = event.id


def told(event: Event) -> list[tuple[str, int]]:
    return [(event.type, event.id)]  # type: ignore[list-item]


def reset_before(event: Event) -> list[tuple[str, int]]:
    """A reset whose ids go on with ``event``, then ``event``."""
    return [(RESET, event.id - 1), *told(event)]  # type: ignore[operator]


async def test_a_dead_home_is_taken_over_then_takes_its_broadcast_back(regions, region_store):
    eu, us, ap = region_store("eu"), region_store("us"), region_store("ap")
    us_viewer = await watch(hub_of(us), "k.1", regions)
    ap_viewer = await watch(hub_of(ap), "k.1", regions)
    before = [await append(eu, "k.1", {"n": n}) for n in range(2)]
    for viewer in (us_viewer, ap_viewer):
        await viewer.wait_for(2)

    regions.kill("eu")
    try:
        await eu.links.close()
        await asyncio.sleep(3 * regions.delay)  # the other regions' gateways see it go
        # us, next after eu, numbers the broadcast; ap, which cannot reach eu, asks us.
        from_us = await append(us, "k.1", {"from": "us"})
        from_ap = await append(ap, "k.1", {"from": "ap"})
        assert from_us.id > before[1].id
        assert from_ap.id == from_us.id + 1
        for viewer in (us_viewer, ap_viewer):
            await viewer.wait_for(5)
            assert story(viewer) == [
                *told(before[0]),
                *told(before[1]),
                *reset_before(from_us),
                *told(from_ap),
            ]
        # A viewer who resumes from before the new lineage refetches; one in it resumes.
        stale = await ap.replay("k.1", before[1].id)
        assert (stale.reset, stale.last_id) == (True, from_ap.id)
        fresh = await ap.replay("k.1", from_us.id)
        assert [e.id for e in fresh.events] == [from_ap.id]
    finally:
        await asyncio.to_thread(regions.revive, "eu")

    # The old home comes back, empty, with a viewer: it takes the broadcast back, in a
    # lineage above us's, at the latest with the next publish (here from us).
    eu_back = region_store("eu")
    await eu_back.start()
    eu_viewer = await watch(hub_of(eu_back), "k.1", regions)
    again = await append(us, "k.1", {"from": "us", "n": 2})
    seq, lineage = await eu_back.local.position("k.1")
    assert (seq, lineage) == (again.id, Lineage(again.id - 1, "eu"))
    for viewer in (us_viewer, ap_viewer):
        await viewer.wait_for(7)
        assert story(viewer)[5:] == reset_before(again)
        assert_no_silent_gap(viewer.events)
    await eu_viewer.wait_for(1)
    assert story(eu_viewer) == told(again)


async def test_a_partition_where_both_sides_publish(regions, region_store):
    eu, us = region_store("eu"), region_store("us")
    eu.tick_interval = us.tick_interval = 0.2
    eu_viewer = await watch(hub_of(eu), "p.1", regions)
    us_viewer = await watch(hub_of(us), "p.1", regions)
    first = await append(eu, "p.1", {"n": 0})
    for viewer in (eu_viewer, us_viewer):
        await viewer.wait_for(1)

    regions.partition()
    try:
        in_eu = [await append(eu, "p.1", {"in": "eu", "n": n}) for n in range(2)]
        in_us = [await append(us, "p.1", {"in": "us", "n": n}) for n in range(2)]
        # Each side's viewers get their own side's writes as they happen; us's refetch
        # once, when us starts numbering the broadcast (it may have missed eu's).
        await eu_viewer.wait_for(3)
        assert story(eu_viewer) == [*told(first), *told(in_eu[0]), *told(in_eu[1])]
        await us_viewer.wait_for(4)
        assert story(us_viewer) == [*told(first), *reset_before(in_us[0]), *told(in_us[1])]
        assert in_us[0].id > in_eu[1].id
    finally:
        await asyncio.to_thread(regions.heal)

    # The link is back: the home hears us's lineage (its ticks) and takes the broadcast back,
    # above both lineages. Each side missed the other's writes: each side's viewers refetch
    # once, and go on together.
    await eu_viewer.wait_for(4)
    await us_viewer.wait_for(5)
    after = await append(us, "p.1", {"n": "after"})
    await eu_viewer.wait_for(5)
    await us_viewer.wait_for(6)
    await asyncio.sleep(0.5)  # ticks come and go: nothing more
    assert story(eu_viewer)[3:] == reset_before(after)
    assert story(us_viewer)[4:] == reset_before(after)
    for viewer in (eu_viewer, us_viewer):
        assert_no_silent_gap(viewer.events)
    _, lineage = await us.local.position("p.1")
    assert lineage == Lineage(after.id - 1, "eu")


async def test_a_home_that_published_through_a_partition_is_told_to_take_back(
    regions, region_store
):
    """The home has no viewer of the broadcast, so it does not hear the other region's
    lineage; that region hears the home's ticks, of an older lineage: it tells the home, which
    takes the broadcast back, and the viewers who missed the home's writes refetch."""
    eu, us = region_store("eu"), region_store("us")
    eu.tick_interval = us.tick_interval = 0.2
    us_viewer = await watch(hub_of(us), "p.3", regions)
    first = await append(eu, "p.3", {"n": 0})
    await us_viewer.wait_for(1)

    regions.partition()
    try:
        await append(eu, "p.3", {"in": "eu"})
        in_us = await append(us, "p.3", {"in": "us"})
        await us_viewer.wait_for(3)
        assert story(us_viewer) == [*told(first), *reset_before(in_us)]
    finally:
        await asyncio.to_thread(regions.heal)

    await us_viewer.wait_for(4)
    [(kind, epoch)] = story(us_viewer)[3:]
    assert (kind, epoch > in_us.id) == (RESET, True)
    assert await eu.local.position("p.3") == (epoch, Lineage(epoch, "eu"))
    after = await append(us, "p.3", {"n": "after"})
    await us_viewer.wait_for(5)
    assert story(us_viewer)[4:] == told(after)
    assert after.id == epoch + 1
