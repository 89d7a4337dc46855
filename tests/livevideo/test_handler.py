"""Django's requests under the ASGI application: the whole middleware chain and view in one
pooled thread, no new thread per request."""

from __future__ import annotations

import threading

import pytest
from asgiref.sync import iscoroutinefunction
from django.core.handlers.asgi import ASGIHandler

from livevideo.handler import OneHopASGIHandler
from tests.realtime.streamtools import SSEClient

pytestmark = pytest.mark.django_db(transaction=True)


async def get(path: str) -> SSEClient:
    """A plain GET through the ASGI application (the SSE test client reads any response)."""
    client = SSEClient(path)
    await client.open()
    return client


def test_the_middleware_chain_is_built_sync():
    # Django's own ASGIHandler builds an async chain that hops to a thread per middleware.
    assert iscoroutinefunction(ASGIHandler()._middleware_chain)
    assert not iscoroutinefunction(OneHopASGIHandler()._middleware_chain)


async def test_requests_pass_through_the_middleware_and_reuse_threads():
    await get("/api/broadcasts/")  # the pool's threads start
    threads_before = threading.active_count()
    for _ in range(20):
        response = await get("/api/broadcasts/")
        assert response.status == 200
        assert response.body.startswith(b"{")
        assert response.headers["x-frame-options"] == "DENY"  # the middleware ran
    assert threading.active_count() <= threads_before + 4  # not a thread per request
