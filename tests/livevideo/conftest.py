"""Personas for the product's tests: a broadcaster who owns the broadcast, another broadcaster,
a viewer, a stranger (another viewer) and platform staff. (The API tests have their own, signed
in with tokens.)"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from livevideo import services


def _broadcaster(user: User) -> User:
    services.broadcaster_grant(user=user)
    return user


@pytest.fixture
def owner(db) -> User:
    return _broadcaster(User.objects.create_user("owner", password="pw-owner-123"))


@pytest.fixture
def other_broadcaster(db) -> User:
    return _broadcaster(User.objects.create_user("other", password="pw-other-123"))


@pytest.fixture
def viewer(db) -> User:
    return User.objects.create_user("viewer", password="pw-viewer-123", first_name="Vi Ewer")


@pytest.fixture
def stranger(db) -> User:
    return User.objects.create_user("stranger", password="pw-stranger-123")


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_user("staff", password="pw-staff-123", is_staff=True)
