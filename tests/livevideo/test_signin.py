"""Sign-in limits (issue 15, items 1 and 2): failures count per account and client address,
a right password never does, and a guesser cannot lock the owner out."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory

PASSWORD = "right-horse-battery"


@pytest.fixture
def owner(db):
    user = UserFactory(username="olive", is_staff=True)  # may use the admin's sign-in too
    user.set_password(PASSWORD)
    user.save()
    return user


def token(password: str, client: str, **headers: str) -> int:
    response = APIClient().post(
        "/api/auth/token/",
        {"username": "olive", "password": password},
        format="json",
        REMOTE_ADDR=client,
        **headers,
    )
    return response.status_code


def test_twelve_wrong_passwords_from_elsewhere_do_not_lock_the_owner_out(owner):
    assert [token("wrong", "203.0.113.66") for _ in range(12)][-2:] == [429, 429]
    assert token(PASSWORD, "198.51.100.1") == 200


def test_right_passwords_never_count(owner, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "SIGN_IN": (3, 300.0)}
    assert {token(PASSWORD, "198.51.100.1") for _ in range(10)} == {200}


def test_the_guessing_address_is_refused_even_the_right_password(owner, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "SIGN_IN": (3, 300.0)}
    assert [token("wrong", "203.0.113.66") for _ in range(3)] == [400, 400, 400]
    assert token(PASSWORD, "203.0.113.66") == 429


def test_many_addresses_close_the_account_but_not_to_an_address_it_used(owner, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "SIGN_IN": (2, 300.0)}
    assert token(PASSWORD, "198.51.100.1") == 200  # the owner's home
    for attacker in range(10):
        for _ in range(2):
            token("wrong", f"203.0.113.{attacker}")
    assert token(PASSWORD, "203.0.113.200") == 429  # a new address: the account is closed
    assert token(PASSWORD, "198.51.100.1") == 200  # home is not


def test_one_address_trying_many_accounts_is_limited(db, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "SIGN_IN": (2, 300.0)}
    codes = [
        APIClient()
        .post("/api/auth/token/", {"username": f"u{i}", "password": "x"}, REMOTE_ADDR="203.0.113.5")
        .status_code
        for i in range(11)
    ]
    assert codes[:10] == [400] * 10
    assert codes[10] == 429


def test_a_forged_forwarded_for_is_not_a_new_client(owner, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "SIGN_IN": (3, 300.0)}
    codes = [token("wrong", "203.0.113.66", HTTP_X_FORWARDED_FOR=f"10.9.8.{i}") for i in range(4)]
    assert codes == [400, 400, 400, 429]


def test_behind_a_trusted_proxy_clients_are_told_apart(owner, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "SIGN_IN": (3, 300.0)}
    for _ in range(3):
        token("wrong", "127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.66")
    assert token("wrong", "127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.66") == 429
    assert token(PASSWORD, "127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1") == 200


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_the_sign_in_pages_do_not_lock_the_owner_out(owner, client, path):
    for _ in range(12):
        client.post(path, {"username": "olive", "password": "wrong"}, REMOTE_ADDR="203.0.113.66")
    response = client.post(path, {"username": "olive", "password": PASSWORD})
    assert response.status_code == 302
