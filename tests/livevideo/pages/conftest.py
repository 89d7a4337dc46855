"""The pages' personas (a viewer, a broadcaster, a rival broadcaster, staff) and broadcasts."""

from __future__ import annotations

import pytest

from livevideo import services
from livevideo.models import Broadcast
from tests.factories import BroadcasterFactory, UserFactory


@pytest.fixture
def viewer():
    return UserFactory(username="viewer", first_name="Vera Viewer")


@pytest.fixture
def broadcaster():
    return BroadcasterFactory(username="caster", first_name="Cass Caster")


@pytest.fixture
def other_broadcaster():
    return BroadcasterFactory(username="rival")


@pytest.fixture
def staff():
    return UserFactory(username="staff", is_staff=True)


@pytest.fixture
def scheduled(broadcaster) -> Broadcast:
    return services.broadcast_create(broadcaster=broadcaster, title="Rehearsal")


@pytest.fixture
def live(broadcaster) -> Broadcast:
    broadcast = services.broadcast_create(broadcaster=broadcaster, title="Launch day")
    return services.broadcast_start(broadcast=broadcast, actor=broadcaster)


@pytest.fixture
def rivals_broadcast(other_broadcaster) -> Broadcast:
    return services.broadcast_create(broadcaster=other_broadcaster, title="Rival show")


def text_of(response) -> str:
    return response.content.decode()
