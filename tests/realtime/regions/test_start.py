"""A server process numbers the topics homed in its region for the other regions from the
moment it starts (the ASGI lifespan starts its store), not from its first own viewer."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.testing import ApplicationCommunicator

from realtime.backends.base import HistoryStore
from realtime.lifespan import lifespan
from realtime.regions import Lineage
from tests.realtime.test_history import append

pytestmark = [pytest.mark.redis, pytest.mark.regions]


async def test_a_started_home_numbers_another_regions_publish(regions, region_store):
    eu, us = region_store("eu"), region_store("us")
    # Nobody in eu answers yet: us numbers it itself, in a lineage of its own.
    first = await append(us, "b.start", {"from": "us"})
    assert (await us.local.position("b.start"))[1] == Lineage(first.id - 1, "us")

    await eu.start()
    await asyncio.sleep(3 * regions.delay)  # its interest crosses the gateways
    second = await append(us, "b.start", {"from": "us"})
    # The home numbers it, in a lineage above every id us gave out.
    seq, lineage = await eu.local.position("b.start")
    assert lineage is not None
    assert (lineage.owner, seq) == ("eu", second.id)
    assert lineage.epoch >= first.id
    assert (await eu.replay("b.start", None)).last_id == second.id


async def test_the_lifespan_starts_the_history_store(monkeypatch):
    started: list[HistoryStore] = []

    async def start(store: HistoryStore) -> None:
        started.append(store)

    monkeypatch.setattr(HistoryStore, "start", start)
    server = ApplicationCommunicator(lifespan, {"type": "lifespan"})
    await server.send_input({"type": "lifespan.startup"})
    assert await server.receive_output(1) == {"type": "lifespan.startup.complete"}
    assert len(started) == 1
    await server.send_input({"type": "lifespan.shutdown"})
    assert await server.receive_output(1) == {"type": "lifespan.shutdown.complete"}
