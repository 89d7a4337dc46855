"""A region's copy of the events that arrive from NATS out of order."""

from __future__ import annotations

import asyncio

import pytest

from realtime.backends.regionarrivals import Arrivals
from realtime.protocol import make_event
from realtime.regions import Lineage

pytestmark = [pytest.mark.redis, pytest.mark.regions]


async def test_two_releases_at_once_copy_each_held_event_once(region_store):
    """A give-up and a new arrival may release the same held events at the same time."""
    us = region_store("us")
    lineage = Lineage(0, "eu")
    events = [make_event("comment.created", {"n": n}, event_id=n) for n in (1, 2, 3, 4)]
    arrivals = Arrivals(us, "a.release")
    await arrivals.take(events[0], lineage)  # the copy starts
    for event in events[2:]:  # ahead of the copy: held
        await arrivals.take(event, lineage)
    assert sorted(arrivals.held) == [3, 4]
    assert await us.local.import_event("a.release", events[1], lineage) == 1

    await asyncio.gather(arrivals._release(), arrivals._release())

    assert arrivals.held == {}
    assert [event.id for event in (await us.replay("a.release", 0)).events] == [1, 2, 3, 4]
    arrivals.stop()
