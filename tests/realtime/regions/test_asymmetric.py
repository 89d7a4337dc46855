"""An asymmetric partition: what us sends eu (every broadcast's home) is held, while what eu
sends us flows. us's requests to the home time out, so us numbers its own writes in a lineage
of its own (its viewers refetch once); the home hears nothing of it (its renewals and events
are held too) and goes on in its own lineage, whose events us gets but drops as older. When
the held direction flows again the home takes the broadcast back and both sides' viewers
refetch once; the requests us gave up on, arriving late, are not numbered. Never a silent
gap, never a write twice; both regions end on the home's lineage."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from loadtest.privateregions import PrivateRegions
from realtime.protocol import RESET
from tests.realtime.regions.test_across import hub_of, watch
from tests.realtime.regions.test_rehoming import assert_no_silent_gap, reset_before, story, told
from tests.realtime.test_history import Collector, append

pytestmark = [pytest.mark.redis, pytest.mark.regions]


async def received_from(regions: PrivateRegions, name: str, source: str, more_than: int) -> None:
    """Wait until region ``name``'s NATS server has received more than ``more_than`` messages
    over the gateways from ``source``."""
    async with asyncio.timeout(3):
        while await asyncio.to_thread(regions[name].received_from, source) <= more_than:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def covered(viewer: Collector, since: int, told: Callable[[str, int], bool]) -> None:
    """Wait until the viewer's story from ``since`` on has an event, or a reset (its
    ``last_event_id``), for which ``told(kind, id)`` holds."""
    async with asyncio.timeout(10):
        while not any(told(*entry) for entry in story(viewer)[since:]):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_a_region_whose_requests_to_the_home_time_out_while_the_homes_events_reach_it(
    regions, region_store
):
    eu, us = region_store("eu"), region_store("us")
    eu.tick_interval = us.tick_interval = 0.2
    us.APPEND_TIMEOUT, us.SILENT_FOR = 0.5, 1.5
    eu_viewer = await watch(hub_of(eu), "q.1", regions)
    us_viewer = await watch(hub_of(us), "q.1", regions)
    first = await append(eu, "q.1", {"n": 0})
    for viewer in (eu_viewer, us_viewer):
        await viewer.wait_for(1)

    regions.hold_into("eu")
    try:
        # us asks the home, gets no answer, and numbers its write itself, in a lineage of its
        # own; the home is passed over for a while, then asked again, in vain again.
        started = time.monotonic()
        in_us = [await append(us, "q.1", {"in": "us", "n": 0})]
        assert time.monotonic() - started >= us.APPEND_TIMEOUT
        started = time.monotonic()
        in_us.append(await append(us, "q.1", {"in": "us", "n": 1}))
        assert time.monotonic() - started < us.APPEND_TIMEOUT
        before = await asyncio.to_thread(regions["us"].received_from, "eu")
        in_eu = await append(eu, "q.1", {"in": "eu"})
        await received_from(regions, "us", "eu", before)  # the home's event reaches us
        await asyncio.sleep(us.SILENT_FOR)
        started = time.monotonic()
        in_us.append(await append(us, "q.1", {"in": "us", "n": 2}))
        assert time.monotonic() - started >= us.APPEND_TIMEOUT
        await asyncio.sleep(3 * regions.delay + 2 * eu.tick_interval)  # ticks come and go
        # us's viewers refetched once and get us's writes; the home's event, of an older
        # lineage, is not theirs. The home's viewers get its writes and nothing of us's.
        assert story(us_viewer) == [
            *told(first), *reset_before(in_us[0]), *told(in_us[1]), *told(in_us[2]),
        ]  # fmt: skip
        assert story(eu_viewer) == [*told(first), *told(in_eu)]
        assert (await eu.local.position("q.1"))[1].owner == "eu"  # it heard nothing of us's
    finally:
        regions.release_into("eu")

    # What was held arrives: the home takes the broadcast back, above us's lineage, and each
    # side's viewers refetch (each missed the other's writes). A write after that reaches
    # both, or a later reset covers it: while us still passes the home over, it numbers the
    # write in a lineage of its own again, and the home takes the broadcast back once more.
    for viewer, held in ((eu_viewer, 2), (us_viewer, 5)):
        await covered(viewer, held, lambda kind, event_id: kind == RESET)
    after = await append(us, "q.1", {"n": "after"})
    for viewer in (eu_viewer, us_viewer):
        await covered(viewer, 0, lambda kind, event_id: event_id >= after.id)
        assert_no_silent_gap(viewer.events)
    async with asyncio.timeout(5):  # the home's ticks bring us to its lineage
        while {(await store.local.position("q.1"))[1].owner for store in (eu, us)} != {"eu"}:  # type: ignore[union-attr]  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    # The appends us gave up on reached the home when released: too late, so not numbered
    # (they would reach viewers a second time, under other ids). us's writes reach the home's
    # viewers through their refetch, as events of no lineage but us's.
    assert [e.data for e in eu_viewer.events if e.data.get("in") == "us"] == []
    for viewer in (eu_viewer, us_viewer):
        numbered = [repr(sorted(e.data.items())) for e in viewer.events if e.type != RESET]
        assert len(numbered) == len(set(numbered)), numbered
