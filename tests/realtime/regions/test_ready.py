"""``/readyz`` with the regions backend: a process whose region's NATS server is down is not
ready (nothing would cross to or from the other regions)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from loadtest.privateregions import PrivateRegions
from tests.realtime.streamtools import realtime_settings

pytestmark = [pytest.mark.redis, pytest.mark.regions, pytest.mark.django_db]


def in_region(settings: Any, regions: PrivateRegions, name: str) -> None:
    settings.REDIS_URL = regions[name].redis.url
    realtime_settings(
        settings,
        HISTORY_BACKEND="realtime.backends.regions.RegionsHistory",
        REDIS_URL=regions[name].redis.url,
        NATS_URL=regions[name].nats_url,
        REGION=name,
        REGIONS=list(regions.regions),
    )


def test_readyz_checks_the_regions_nats_server(client: Client, settings, regions):
    in_region(settings, regions, "eu")
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["nats"] == "ok"

    in_region(settings, regions, "ap")
    nats = regions["ap"].process
    nats.kill()  # ap's NATS server only: its Redis goes on
    nats.wait()
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["nats"] == "error: ConnectionRefusedError"
        assert response.json()["checks"]["redis"] == "ok"
    finally:
        regions["ap"].run_nats()
        regions.heal()  # waits until every gateway is connected again
    assert client.get("/readyz").status_code == 200


def test_readyz_without_regions_does_not_check_nats(client: Client):
    assert client.get("/readyz").json()["checks"]["nats"] == "not configured"
