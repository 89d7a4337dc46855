"""Three regions started once for the run (``loadtest.privateregions``), and stores of each."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from loadtest.privateregions import PrivateRegions
from realtime.backends.regions import RegionsHistory
from realtime.regions import first_region
from tests.servers import start_or_skip

NAMES = ("eu", "us", "ap")


@pytest.fixture(scope="session")
def regions() -> Any:
    """``eu``, ``us`` and ``ap``, each its own Redis and NATS server, 75 ms apart one way."""
    started = start_or_skip(lambda: PrivateRegions(NAMES, delay=0.075), "three regions")
    yield started
    started.destroy()


@pytest.fixture
def prefix() -> str:
    """This test's own keys and NATS subjects."""
    return f"rt-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def linked() -> AsyncIterator[list[Any]]:
    """The stores a test made; their NATS connections close when it ends."""
    made: list[Any] = []
    yield made
    for store in made:
        await store.links.close()


@pytest.fixture
def region_store(
    regions: PrivateRegions, prefix: str, linked: list[Any]
) -> Callable[[str], RegionsHistory]:
    """``region_store(name)``: a process's store in that region, on this test's own keys and
    subjects; every topic is homed in ``eu``."""

    def make(name: str) -> RegionsHistory:
        store = RegionsHistory(
            size=20, ttl=600, redis_url=regions[name].redis.url, key_prefix=prefix,
            region=name, regions=NAMES, nats_url=regions[name].nats_url, home=first_region,
        )  # fmt: skip
        linked.append(store)
        return store

    return make
