"""Hostile input that used to reach a 500 (issue 15, item 6): each is a 4xx with a reason."""

from __future__ import annotations

import pytest
from asgiref.testing import ApplicationCommunicator
from rest_framework.test import APIClient

from tests.factories import BroadcastFactory, UserFactory
from tests.realtime.streamtools import SSEClient


@pytest.mark.django_db
def test_a_forged_comments_cursor_is_a_404_with_a_reason():
    broadcast = BroadcastFactory(live=True)
    # base64("r=1&p='"): a position that is no timestamp.
    response = APIClient().get(f"/api/broadcasts/{broadcast.pk}/comments/?cursor=cj0xJnA9JTI3")
    assert response.status_code == 404
    assert "cursor" in response.json()["detail"].lower()


@pytest.mark.django_db
def test_json_nested_a_thousand_deep_is_a_400_with_a_reason():
    user = UserFactory()
    client = APIClient()
    client.force_authenticate(user)
    body = '{"title": ' + "[" * 1000 + "]" * 1000 + "}"
    response = client.post("/api/broadcasts/", body, content_type="application/json")
    assert response.status_code == 400
    assert "nest" in response.json()["detail"].lower()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_realtime")
async def test_the_stream_with_thousands_of_query_parameters_is_a_400():
    query = "&".join(f"p{i}=1" for i in range(5000))
    sse = SSEClient(f"/sse/broadcasts/1/?{query}")
    assert await sse.open() == 400
    assert b"parameters" in sse.body
    await sse.communicator.wait()


async def http(path: bytes, method: str = "GET") -> tuple[int, dict[bytes, bytes], bytes]:
    """One request straight to the ASGI application: status, headers, body."""
    from livevideo.asgi import application

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path.decode("latin-1"), "raw_path": path, "query_string": b"",
        "root_path": "", "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 12345), "server": ("testserver", 80),
    }  # fmt: skip
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(5)
    body = b""
    while True:
        message = await communicator.receive_output(5)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    return start["status"], dict(start["headers"]), body


@pytest.mark.parametrize(
    "path",
    [b"/static/..%2f..%2fmanage.py", b"/static/../../manage.py", b"/static/%2e%2e/manage.py"],
)
@pytest.mark.django_db(transaction=True)
async def test_a_static_path_out_of_the_static_folders_is_a_404(path):
    status, _, body = await http(path)
    assert status == 404
    assert b"DJANGO_SETTINGS_MODULE" not in body


@pytest.mark.django_db(transaction=True)
async def test_static_files_are_served_with_cache_headers():
    status, headers, body = await http(b"/static/css/base.css")
    assert status == 200
    assert len(body) > 1000
    assert headers[b"content-type"].startswith(b"text/css")
    assert headers[b"cache-control"] == b"max-age=3600, public"
    assert b"etag" in headers
