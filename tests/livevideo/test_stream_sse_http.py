"""The SSE stream as an HTTP resource, now that it is served ahead of Django's handler: what
Django's middleware gave it (Host check, security headers, HTTPS redirect, 503 while the
database is down), methods, and the client going away. (Under uvicorn: test_rawsend.py.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError

from livevideo import selectors
from livevideo.models import Broadcast
from realtime.runtime import get_hub
from tests.factories import BroadcastFactory
from tests.realtime.streamtools import SSEClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_realtime")]

run = database_sync_to_async

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "x-frame-options": "DENY",
}


@pytest.fixture
def broadcast() -> Broadcast:
    return BroadcastFactory(live=True)


def request(broadcast: Broadcast, **scope: Any) -> SSEClient:
    """A request for the broadcast's stream, with some of its ASGI scope changed."""
    client = SSEClient(f"/sse/broadcasts/{broadcast.pk}/")
    client.communicator.scope.update(scope)  # the application has not read it yet
    return client


async def test_the_stream_carries_the_headers_django_gave_it(broadcast):
    sse = request(broadcast)
    assert await sse.open() == 200
    assert sse.headers.items() >= SECURITY_HEADERS.items()
    assert sse.headers["vary"] == "Cookie"
    assert sse.headers["x-accel-buffering"] == "no"
    assert "content-length" not in sse.headers
    await sse.close()


async def test_refusals_are_json_with_the_same_headers():
    sse = SSEClient("/sse/broadcasts/999999/")
    assert await sse.open() == 404
    assert sse.headers.items() >= SECURITY_HEADERS.items()
    assert sse.headers["content-length"] == str(len(sse.body))
    assert sse.body == b'{"detail": "Not found."}'  # as Django's JsonResponse writes it


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
async def test_other_methods_than_get_and_head_are_a_405(broadcast, method):
    sse = request(broadcast, method=method)
    assert await sse.open() == 405
    assert sse.headers["allow"] == "GET, HEAD"
    assert sse.headers["content-type"] == "application/json"
    assert json.loads(sse.body) == {"detail": f'Method "{method}" not allowed.'}


async def test_head_gets_the_streams_headers_and_no_stream(broadcast):
    sse = request(broadcast, method="HEAD")
    assert await sse.open() == 200
    assert sse.headers["content-type"] == "text/event-stream"
    assert await sse.ended()
    assert get_hub().topics == {}


@pytest.mark.parametrize("host", [b"evil.example", b"testserver:bad-port"])
async def test_a_host_not_allowed_is_a_400(broadcast, host):
    sse = request(broadcast, headers=[(b"host", host)])
    assert await sse.open() == 400
    assert json.loads(sse.body) == {"detail": "Invalid Host header."}


async def test_without_a_host_header_the_server_name_is_checked(broadcast):
    sse = request(broadcast, headers=[])  # HTTP/1.0: ("testserver", 80) is allowed
    assert await sse.open() == 200
    await sse.close()


async def test_over_https_it_sends_hsts_and_plain_http_is_redirected(broadcast, settings):
    settings.SECURE_HSTS_SECONDS = 3600
    secure = request(broadcast, scheme="https")
    assert await secure.open() == 200
    assert secure.headers["strict-transport-security"] == "max-age=3600"
    await secure.close()

    settings.SECURE_SSL_REDIRECT = True
    plain = request(broadcast, query_string=b"last_event_id=3")
    assert await plain.open() == 301
    assert plain.headers["location"] == (
        f"https://testserver/sse/broadcasts/{broadcast.pk}/?last_event_id=3"
    )


async def test_a_query_string_that_is_not_utf8_is_a_400(broadcast):
    sse = request(broadcast, query_string=b"last_event_id=%ff\xff")
    assert await sse.open() == 400


async def test_database_down_is_a_503_with_retry_after(broadcast, monkeypatch):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("connection refused")

    monkeypatch.setattr("livevideo.selectors.broadcast_data", broken)
    sse = request(broadcast)
    assert await sse.open() == 503
    assert sse.headers["retry-after"] == "5"
    assert b"try again shortly" in sse.body
    assert sse.headers.items() >= SECURITY_HEADERS.items()
    assert get_hub().topics == {}


async def test_a_client_that_goes_away_stops_counting_as_a_viewer(broadcast):
    count = run(selectors.viewer_count)
    before = await count(broadcast_id=broadcast.pk)
    sse = request(broadcast)
    await sse.open()
    await sse.message()
    assert await count(broadcast_id=broadcast.pk) == before + 1
    await sse.close()  # http.disconnect: the endpoint returns (close waits for it)
    assert await count(broadcast_id=broadcast.pk) == before
    assert get_hub().topics == {}
