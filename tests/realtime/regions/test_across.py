"""Regions on one machine, 75 ms apart: an event published in one region reaches the viewers of
every region that watches its topic once, with the same id and in the same order; a viewer
moving between regions resumes with no gap and no duplicate; one message crosses to each
region that has viewers of the topic, none to the others; a partition heals into the events
it held back, in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from loadtest.privateregions import PrivateRegions
from realtime.backends.regionhub import RegionsHub
from realtime.backends.regions import RegionsHistory
from realtime.hub import Hub
from realtime.protocol import make_event
from realtime.regions import Lineage
from tests.realtime.streamtools import consecutive
from tests.realtime.test_history import Collector, append

pytestmark = [pytest.mark.redis, pytest.mark.regions]

Stores = Callable[[str], RegionsHistory]


def hub_of(store: RegionsHistory) -> RegionsHub:
    return store.make_hub(flush_interval=0.0, storm_joins=10_000, storm_share=0.1)


async def watch(hub: Hub, topic: str, regions: PrivateRegions) -> Collector:
    """A viewer of ``topic`` on ``hub``, once the other regions know its region watches it."""
    viewer = Collector()
    await hub.join(topic, viewer)
    await asyncio.sleep(3 * regions.delay)  # the subscription's interest crosses the gateways
    return viewer


async def test_an_event_reaches_every_watching_region_once_with_the_same_id(regions, region_store):
    eu, us = region_store("eu"), region_store("us")
    eu.tick_interval = 60.0  # no tick crosses while this test counts
    eu_viewer = await watch(hub_of(eu), "b.1", regions)
    us_viewer = await watch(hub_of(us), "b.1", regions)
    sent = {name: regions["eu"].sent_to(name) for name in ("us", "ap")}

    published = [await append(eu, "b.1", {"n": n}, kind="comment.created") for n in range(5)]
    started = time.monotonic()
    received = await us_viewer.wait_for(5)
    assert time.monotonic() - started >= regions.delay * 0.9  # it crossed the slow link
    await eu_viewer.wait_for(5)
    await asyncio.sleep(3 * regions.delay)

    ids = consecutive(published[0].id, 5)
    assert [e.id for e in received] == [e.id for e in eu_viewer.events] == ids
    assert [e.encoded for e in received] == [e.encoded for e in published]
    # Per event one message to the region that watches the topic, none to the one that does not.
    assert regions["eu"].sent_to("us") - sent["us"] == 5
    assert regions["eu"].sent_to("ap") - sent["ap"] == 0
    # The watching region keeps them under the same ids, for its own viewers to resume from.
    assert [e.id for e in (await us.local.replay("b.1", ids[1])).events] == ids[2:]


async def test_a_viewer_moving_to_another_region_resumes_with_no_gap_and_no_duplicate(
    regions, region_store
):
    eu, us = region_store("eu"), region_store("us")
    eu_viewer = await watch(hub_of(eu), "b.2", regions)
    published = [await append(eu, "b.2", {"n": n}) for n in range(3)]
    seen = (await eu_viewer.wait_for(3))[1].id  # it saw two, then moved

    # Nobody in us watched the topic: us's Redis has none of it, the home answers.
    replay = await us.replay("b.2", seen)
    assert (replay.reset, [e.id for e in replay.events]) == (False, [published[2].id])

    # Now us watches (its copy starts after these), and more are published meanwhile.
    us_viewer = await watch(hub_of(us), "b.2", regions)
    published += [await append(eu, "b.2", {"n": n}) for n in range(3, 6)]
    await us_viewer.wait_for(3)
    replay = await us.replay("b.2", seen)
    assert (replay.reset, [e.id for e in replay.events]) == (False, [e.id for e in published[2:]])
    assert replay.last_id == published[-1].id


async def test_publishing_from_another_region_gets_an_id_from_the_home(regions, region_store):
    eu, us = region_store("eu"), region_store("us")
    eu_viewer = await watch(hub_of(eu), "b.3", regions)
    us_viewer = await watch(hub_of(us), "b.3", regions)
    first = await append(eu, "b.3", {"from": "eu"})
    from_us = await append(us, "b.3", {"from": "us"})
    assert from_us.id == first.id + 1
    for viewer in (eu_viewer, us_viewer):
        assert [(e.id, e.data) for e in await viewer.wait_for(2)] == [
            (first.id, {"from": "eu"}),
            (from_us.id, {"from": "us"}),
        ]
    await asyncio.sleep(3 * regions.delay)
    assert len(us_viewer.events) == 2  # once, though it went from us to eu and back


async def test_snapshots_cross_but_a_regions_own_figures_stay_in_it(regions, region_store):
    eu, us = region_store("eu"), region_store("us")
    eu.local_snapshots = frozenset({"viewers"})  # as the product's settings say
    eu_viewer = await watch(hub_of(eu), "b.6", regions)
    us_viewer = await watch(hub_of(us), "b.6", regions)
    await eu.announce("b.6", make_event("viewers", {"count": 3}))
    await eu.announce("b.6", make_event("reactions", {"total": 7}))
    [received] = await us_viewer.wait_for(1)
    assert (received.type, received.id, received.data) == ("reactions", None, {"total": 7})
    assert [e.type for e in await eu_viewer.wait_for(2)] == ["viewers", "reactions"]
    await asyncio.sleep(3 * regions.delay)
    assert len(us_viewer.events) == 1
    assert len(eu_viewer.events) == 2  # its own snapshot does not come back


async def test_events_published_out_of_order_are_copied_in_order(regions, region_store):
    """Two processes of the home may publish a topic's events in another order than their
    ids: the region waits for the missing one instead of resetting its viewers."""
    eu, us = region_store("eu"), region_store("us")
    us_viewer = await watch(hub_of(us), "b.5", regions)
    first = await append(eu, "b.5", {})
    await us_viewer.wait_for(1)
    client = await eu.links.client()
    _, lineage = await eu.local.position("b.5")
    assert isinstance(lineage, Lineage)
    for n in (2, 1):  # published to NATS only: the home's history could not fill them in
        event = make_event("x", {"n": n}, event_id=first.id + n)
        await client.publish(
            eu.subjects.events("b.5"), event.encoded.encode(), headers=lineage.headers()
        )
    received = await us_viewer.wait_for(3)
    assert [(e.type, e.id) for e in received] == [("x", first.id + n) for n in range(3)]


async def test_after_a_partition_what_it_held_back_arrives_in_order(regions, region_store):
    """Only the home publishes during the partition: the other region's viewers get what it
    held back when the link returns, in order, with no reset (a partition where both sides
    publish: test_rehoming.py)."""
    eu, us = region_store("eu"), region_store("us")
    eu.tick_interval, us.REQUEST_TIMEOUT = 0.2, 0.5
    eu_viewer = await watch(hub_of(eu), "b.4", regions)
    us_viewer = await watch(hub_of(us), "b.4", regions)
    published = [await append(eu, "b.4", {"n": 0})]
    await us_viewer.wait_for(1)

    regions.partition()
    try:
        # Each side goes on serving its own viewers; the home's writes go on.
        published += [await append(eu, "b.4", {"n": n}) for n in range(1, 4)]
        assert [e.id for e in await eu_viewer.wait_for(4)] == [e.id for e in published]
        await asyncio.sleep(0.5)
        assert len(us_viewer.events) == 1
    finally:
        await asyncio.to_thread(regions.heal)

    # Nothing new is published: the home's tick tells us what it missed.
    await us_viewer.wait_for(4)
    published.append(await append(eu, "b.4", {"n": 4}))
    await us_viewer.wait_for(5)
    await asyncio.sleep(3 * regions.delay)
    assert [(e.type, e.id) for e in us_viewer.events] == [("x", e.id) for e in published]
