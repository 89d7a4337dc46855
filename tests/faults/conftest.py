"""Fault tests run real app servers (daphne processes) on the test database, with Redis a
private server the test may stop, or the shared test Redis when nothing stops it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from loadtest.servers import PrivateRedis
from tests.factories import BroadcastFactory, UserFactory
from tests.servers import AppServer, database_url, start_or_skip

# Short presence timings, so a dead process's viewers lapse within a second.
HEARTBEAT, GRACE = 0.5, 0.5


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = start_or_skip(PrivateRedis, "a private Redis")
    yield server
    server.destroy()


@dataclass
class Scene:
    """A live broadcast and a signed-in viewer's API token."""

    broadcast_id: int
    token: str


@pytest.fixture
def scene(transactional_db: None) -> Scene:
    viewer = UserFactory(username="vic")
    broadcast = BroadcastFactory(live=True)
    return Scene(broadcast.pk, Token.objects.create(user=viewer).key)


@pytest.fixture
def start_server() -> Iterator[Callable[[str], AppServer]]:
    """Start an app server of the deployment on Redis ``redis_url`` and the test database;
    every one is stopped at the end."""
    servers: list[AppServer] = []

    def start(redis_url: str) -> AppServer:
        server = AppServer(
            {
                "DATABASE_URL": database_url(connection.settings_dict),
                "REDIS_URL": redis_url,
                "PRESENCE_HEARTBEAT_INTERVAL": str(HEARTBEAT),
                "PRESENCE_GRACE_PERIOD": str(GRACE),
                "PRESENCE_DEBOUNCE": "0.1",
                "RATE_COMMENTS": "1000",
                "RATE_ADDRESS_COMMENTS": "0",
            }
        )
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
