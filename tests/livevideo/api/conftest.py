"""Personas for the API tests: the broadcast's owner, another broadcaster, a viewer, staff and
anonymous, each with an ``APIClient`` signed in the way a real client is (a token)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from livevideo import services
from livevideo.models import Broadcast
from presence.backends import PresenceStore, get_store
from tests.factories import BroadcastFactory, UserFactory

ClientFor = Callable[[AbstractBaseUser | None], APIClient]
# The presence store's clock in these tests (seconds since the epoch: 2030-01-02T03:04:05Z).
PRESENCE_NOW = 1893553445.0


@pytest.fixture
def owner(db: None) -> AbstractBaseUser:
    user = UserFactory(username="olive", first_name="Olive", last_name="Owner")
    services.broadcaster_grant(user=user)
    return user


@pytest.fixture
def other_broadcaster(db: None) -> AbstractBaseUser:
    user = UserFactory(username="otto")
    services.broadcaster_grant(user=user)
    BroadcastFactory(broadcaster=user)
    return user


@pytest.fixture
def viewer(db: None) -> AbstractBaseUser:
    return UserFactory(username="vera", first_name="Vera")


@pytest.fixture
def staff(db: None) -> AbstractBaseUser:
    return UserFactory(username="stan", is_staff=True)


@pytest.fixture
def client_for(db: None) -> ClientFor:
    """``client_for(user)``: a client using ``user``'s token; ``client_for(None)``: anonymous."""

    def make(user: AbstractBaseUser | None) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def anonymous(client_for: ClientFor) -> APIClient:
    return client_for(None)


@pytest.fixture
def scheduled(owner: AbstractBaseUser) -> Broadcast:
    return BroadcastFactory(broadcaster=owner)


@pytest.fixture
def live(owner: AbstractBaseUser) -> Broadcast:
    return BroadcastFactory(broadcaster=owner, live=True)


@pytest.fixture
def ended(owner: AbstractBaseUser) -> Broadcast:
    return BroadcastFactory(broadcaster=owner, ended=True)


@pytest.fixture
def presence_store(settings: Any) -> PresenceStore:
    """A fresh in-process presence store whose clock stands still at ``PRESENCE_NOW``."""
    settings.PRESENCE = {
        **settings.PRESENCE,
        "BACKEND": "presence.backends.memory.MemoryPresenceStore",
        "OPTIONS": {"clock": lambda: PRESENCE_NOW},
    }
    return get_store()
