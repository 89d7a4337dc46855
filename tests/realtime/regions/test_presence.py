"""Presence over regions (``presence.backends.regions``): the Redis store's contract on a
region's Redis, and each region's share of a topic crossing to the regions that watch it (once
per change, none to the others), merged into every region's count and presence, and leaving
them when that region stops reporting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from loadtest.privateregions import PrivateRegions
from presence.backends import PresenceConnection, PresenceStore
from presence.backends.regions import RegionsPresenceStore
from tests.presence.conftest import FakeClock
from tests.presence.test_backends import GRACE, TTL, SharedPresenceStoreContract
from tests.servers import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.regions]

NAMES = ("eu", "us", "ap")
TOPIC = "broadcast.1"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def region_presence(
    regions: PrivateRegions, prefix: str, linked: list[Any]
) -> Callable[..., RegionsPresenceStore]:
    """``region_presence(name)``: a process's presence store in that region."""

    def make(name: str, **options: Any) -> RegionsPresenceStore:
        store = RegionsPresenceStore(
            url=regions[name].redis.url, prefix=f"{prefix}:", key_prefix=prefix,
            region=name, regions=NAMES, nats_url=regions[name].nats_url,
            **{"ttl": TTL, "grace": GRACE, **options},
        )  # fmt: skip
        linked.append(store)
        return store

    return make


class TestRegionsPresenceStore(SharedPresenceStoreContract):
    """The Redis store's contract holds for a region's store (no other region reporting)."""

    @pytest.fixture
    def store(self, clock: FakeClock, region_presence: Any) -> PresenceStore:
        return region_presence("eu", clock=clock)

    @pytest.fixture
    def other(self, clock: FakeClock, region_presence: Any) -> PresenceStore:
        return region_presence("eu", clock=clock)


class Changes(list[str]):
    """The topics a store said another region's share changed."""

    def __init__(self) -> None:
        super().__init__()
        self.grew = asyncio.Event()

    def __call__(self, topic: str) -> None:
        self.append(topic)
        self.grew.set()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self) < count:
                self.grew.clear()
                await self.grew.wait()


def conn(cid: str, user_id: int | None = None, client: str | None = None) -> PresenceConnection:
    return PresenceConnection(TOPIC, cid, user_id, client)


async def test_each_regions_share_is_merged_where_the_topic_is_watched(regions, region_presence):
    eu, us, ap = (region_presence(name) for name in NAMES)
    us.heartbeat([conn("u1", 9)])
    changed = Changes()
    await us.awatch(TOPIC, changed)
    await asyncio.sleep(3 * regions.delay)  # us's interest reaches eu
    sent = {name: regions["eu"].sent_to(name) for name in ("us", "ap")}

    await eu.aheartbeat([conn("e1", 7), conn("e2", 7), conn("e3", client="203.0.113.5")])
    await eu.ashare(TOPIC)
    await changed.wait_for(1)

    assert us.viewer_counts([TOPIC]) == {TOPIC: 1 + 2}
    assert await us.ausers_on_topic(TOPIC, [7, 8, 9]) == {7, 9}
    assert us.users_present(TOPIC, limit=10) == {7, 9}
    assert us.users_presence([7])[7].online
    # eu's own count is its own: us told nothing (it shared nothing), ap watches nothing.
    assert eu.viewer_counts([TOPIC]) == {TOPIC: 2}
    assert ap.viewer_counts([TOPIC]) == {TOPIC: 0}

    # The same share again is not sent; a changed one is, by whichever process of eu.
    await eu.ashare(TOPIC)
    other_eu = region_presence("eu")
    await other_eu.ashare(TOPIC)
    await eu.aremove([conn("e3", client="203.0.113.5")])
    await other_eu.ashare(TOPIC)
    await changed.wait_for(2)
    await asyncio.sleep(3 * regions.delay)
    assert changed == [TOPIC, TOPIC]
    assert us.viewer_counts([TOPIC]) == {TOPIC: 1 + 1}
    # One message across per share, to the region that watches, none to the other.
    assert regions["eu"].sent_to("us") - sent["us"] == 2
    assert regions["eu"].sent_to("ap") - sent["ap"] == 0


async def test_a_region_that_stops_reporting_leaves_the_total(regions, region_presence):
    eu = region_presence("eu", ttl=1.0, grace=0.5)
    us = region_presence("us", ttl=1.0, grace=0.5)
    changed = Changes()
    await us.awatch(TOPIC, changed)
    await asyncio.sleep(3 * regions.delay)
    await eu.aheartbeat([conn("e1", 7)])
    await eu.ashare(TOPIC)
    await changed.wait_for(1)
    assert us.viewer_counts([TOPIC]) == {TOPIC: 1}
    assert us.users_presence([7])[7].online

    # eu says nothing more (dead, or cut off): its share runs out after the ttl.
    assert wait_until(lambda: us.viewer_counts([TOPIC]) == {TOPIC: 0}, timeout=2)
    assert us.users_on_topic(TOPIC, [7]) == set()
    assert not us.users_presence([7])[7].online
