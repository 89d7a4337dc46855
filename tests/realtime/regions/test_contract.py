"""The history store contract on the regions backend, in the home region of every topic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio

from loadtest.privateregions import PrivateRegions
from realtime.runtime import get_history
from tests.realtime.streamtools import realtime_settings
from tests.realtime.test_history import HistoryContract


@pytest.mark.redis
class TestRegionsHistory(HistoryContract):
    @pytest.fixture(autouse=True)
    async def _region(self, regions: PrivateRegions) -> AsyncIterator[None]:
        self.region = regions["eu"]
        yield
        await get_history().links.close()  # type: ignore[attr-defined]

    def configure(self, settings: Any) -> None:
        realtime_settings(
            settings,
            HISTORY_BACKEND="realtime.backends.regions.RegionsHistory",
            HISTORY_SIZE=self.size,
            REDIS_URL=self.region.redis.url,
            NATS_URL=self.region.nats_url,
            REGION="eu",
            REGIONS=["eu", "us"],
        )

    async def lose_everything(self, store):
        client = redis.asyncio.Redis.from_url(self.region.redis.url)
        await client.flushdb()  # as a Redis restarted without persistence
        await client.aclose()
        return store
