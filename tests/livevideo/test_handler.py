"""Django's requests under the ASGI application: the whole middleware chain and view in one
pooled thread, no new thread per request."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from asgiref.sync import iscoroutinefunction
from asgiref.testing import ApplicationCommunicator
from django.core.handlers.asgi import ASGIHandler

from livevideo.asgi import application
from livevideo.handler import OneHopASGIHandler

pytestmark = pytest.mark.django_db(transaction=True)


async def get(path: str) -> tuple[int, dict[bytes, bytes], bytes]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 12345),
        "server": ("testserver", 80),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(5)
    body = b""
    while True:
        message = await communicator.receive_output(5)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(5)
    return start["status"], {k.lower(): v for k, v in start["headers"]}, body


def test_the_middleware_chain_is_built_sync():
    # Django's own ASGIHandler builds an async chain that hops to a thread per middleware.
    assert iscoroutinefunction(ASGIHandler()._middleware_chain)
    assert not iscoroutinefunction(OneHopASGIHandler()._middleware_chain)


async def test_requests_pass_through_the_middleware_and_reuse_threads():
    await get("/api/broadcasts/")  # the pool's threads start
    threads_before = threading.active_count()
    for _ in range(20):
        status, headers, body = await get("/api/broadcasts/")
        assert status == 200
        assert body.startswith(b"{")
        assert headers[b"x-frame-options"] == b"DENY"  # the middleware ran
    assert threading.active_count() <= threads_before + 4  # not a thread per request
