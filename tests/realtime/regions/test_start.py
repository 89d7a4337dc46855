"""A server process numbers the topics homed in its region for the other regions from the
moment it starts (the ASGI lifespan starts its store), not from its first own viewer."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from asgiref.testing import ApplicationCommunicator
from django.db import connection

from loadtest.privateregions import PrivateRegions
from loadtest.servers import Server, server_env
from realtime.backends.base import HistoryStore
from realtime.backends.regions import RegionsHistory
from realtime.lifespan import lifespan
from realtime.regions import Lineage, first_region
from tests.realtime.test_history import append
from tests.servers import database_url, free_port, http_get

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


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
async def test_a_production_server_numbers_other_regions_appends_from_its_start(
    regions: PrivateRegions, tmp_path: Path
):
    """uvicorn (the production server) in eu, before any viewer or publish of its own."""
    env = {
        **server_env(database_url=database_url(connection.settings_dict), redis_url=""),
        **regions.app_env("eu"),
    }
    server = Server.start("uvicorn", "127.0.0.1", free_port(), env, tmp_path / "eu.log")
    us = RegionsHistory(
        size=20, ttl=600, redis_url=regions["us"].redis.url, key_prefix="rt",
        region="us", regions=tuple(regions.regions),
        nats_url=regions["us"].nats_url, home=first_region,
    )  # fmt: skip
    try:
        await asyncio.to_thread(server.wait_ready)
        ready = await asyncio.to_thread(http_get, f"{server.url}/readyz")
        assert ready[0] == 200, ready
        assert json.loads(ready[1])["checks"]["nats"] == "ok"
        await asyncio.sleep(3 * regions.delay)  # its interest crosses the gateways

        topic = f"b.started-{uuid.uuid4().hex[:8]}"
        event = await append(us, topic, {"from": "us"})
        assert (await us.replay(topic, event.id - 1)).events == [event]  # from eu's Redis
    finally:
        await us.links.close()
        await asyncio.to_thread(server.stop)
