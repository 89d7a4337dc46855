"""The WebSocket Origin check compares scheme, host and port with the site's own origin."""

from __future__ import annotations

import pytest

from realtime.origin import origin_allowed


def scope(origin: str | None, host: str = "127.0.0.1:8000", **extra) -> dict:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    headers += [(k.encode(), v.encode()) for k, v in extra.pop("headers", {}).items()]
    return {
        "type": "websocket",
        "scheme": "ws",
        "headers": headers,
        "client": ("203.0.113.9", 1),
        **extra,
    }


@pytest.fixture(autouse=True)
def _site(settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1", "live.example.com"]
    settings.CSRF_TRUSTED_ORIGINS = []
    settings.TRUSTED_PROXIES = ["127.0.0.1"]


def test_the_sites_own_origin_is_accepted():
    assert origin_allowed(scope("http://127.0.0.1:8000"))


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:9999",  # another port
        "http://127.0.0.1",  # port 80, not 8000
        "HTTP://127.0.0.1",
        "https://127.0.0.1:8000",  # another scheme
        "http://evil.example:8000",
        "null",
        "",
        None,
    ],
)
def test_anything_else_is_refused(origin):
    assert not origin_allowed(scope(origin))


def test_default_ports_and_case_are_the_same_origin():
    assert origin_allowed(scope("HTTP://127.0.0.1:80", host="127.0.0.1"))
    assert origin_allowed(scope("http://127.0.0.1", host="127.0.0.1:80"))


def test_a_host_not_allowed_is_refused_even_same_origin():
    assert not origin_allowed(scope("http://evil.example", host="evil.example"))


def test_behind_a_trusted_tls_proxy_the_pages_are_https():
    behind = {"client": ("127.0.0.1", 1), "headers": {"x-forwarded-proto": "https"}}
    assert origin_allowed(scope("https://live.example.com", host="live.example.com", **behind))
    assert not origin_allowed(scope("http://live.example.com", host="live.example.com", **behind))


def test_x_forwarded_proto_from_anyone_else_is_ignored():
    direct = {"headers": {"x-forwarded-proto": "https"}}
    assert not origin_allowed(scope("https://live.example.com", host="live.example.com", **direct))


def test_csrf_trusted_origins_are_accepted(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://studio.example.com"]
    assert origin_allowed(scope("https://studio.example.com"))
