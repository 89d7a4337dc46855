"""The client address: a proxy's X-Forwarded-For is believed only from a trusted proxy."""

from __future__ import annotations

import pytest

from realtime.clientaddress import client_address, scope_client_address


@pytest.fixture(autouse=True)
def _trust_the_local_proxy(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]


def test_a_direct_client_is_its_peer_whatever_it_says():
    assert client_address("203.0.113.9", "1.2.3.4") == "203.0.113.9"


def test_behind_a_trusted_proxy_the_client_is_the_forwarded_address():
    assert client_address("127.0.0.1", "198.51.100.7") == "198.51.100.7"


def test_the_right_most_untrusted_hop_wins_over_what_the_client_prepended():
    assert client_address("127.0.0.1", "6.6.6.6, 198.51.100.7, 10.1.2.3") == "198.51.100.7"


def test_a_trusted_proxy_without_the_header_is_itself():
    assert client_address("127.0.0.1", None) == "127.0.0.1"


def test_garbage_in_the_header_is_not_an_address():
    assert client_address("127.0.0.1", "not-an-ip") == "127.0.0.1"


def test_nothing_is_trusted_by_default(settings):
    settings.TRUSTED_PROXIES = []
    assert client_address("127.0.0.1", "198.51.100.7") == "127.0.0.1"


def test_an_asgi_scope():
    scope = {"client": ("127.0.0.1", 5000), "headers": [(b"x-forwarded-for", b"198.51.100.7")]}
    assert scope_client_address(scope) == "198.51.100.7"
    assert scope_client_address({"client": None, "headers": []}) == ""
