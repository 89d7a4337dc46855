"""Through nginx, viewers land on both processes, and an event published by one process reaches
the viewers of the other, over WebSocket and SSE alike."""

from __future__ import annotations

import http.client
import json
import re
from contextlib import ExitStack

from websockets.sync.client import connect

from tests.proxy.conftest import PASSWORD

VIEWERS = 4  # of each transport: nginx takes turns, so each process gets two of each


def connections(port: int) -> dict[str, float]:
    """``realtime_connections`` by transport, from one process's own ``/metrics``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    found = re.findall(r'^realtime_connections\{transport="(\w+)"\} (\S+)$', text, re.M)
    return {transport: float(value) for transport, value in found}


def post_comment(port: int, token: str, broadcast_id: int, text: str) -> int:
    """A comment posted to the process on ``port`` itself, not through nginx."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"text": text})
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    connection.request("POST", f"/api/broadcasts/{broadcast_id}/comments/", body, headers)
    return connection.getresponse().status


def websocket_texts(ws) -> str:
    """Frames until one carries a comment."""
    frames = ""
    while "comment.created" not in frames:
        frames += ws.recv(timeout=10)
    return frames


def sse_texts(response: http.client.HTTPResponse) -> str:
    """The stream until a comment arrives in it."""
    stream = b""
    while b"comment.created" not in stream:
        stream += response.read1()
    return stream.decode()


def test_a_comment_posted_to_one_process_reaches_viewers_on_both(site, broadcast_id):
    origin = f"http://127.0.0.1:{site.port}"
    with ExitStack() as stack:
        sockets = [
            stack.enter_context(
                connect(f"ws://127.0.0.1:{site.port}/ws/broadcasts/{broadcast_id}/", origin=origin)
            )
            for _ in range(VIEWERS)
        ]
        streams = []
        for _ in range(VIEWERS):
            connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=10)
            stack.callback(connection.close)
            connection.request("GET", f"/sse/broadcasts/{broadcast_id}/")
            streams.append(connection.getresponse())
        assert all('"hello"' in ws.recv(timeout=10) for ws in sockets)
        assert all(b"hello" in response.read1() for response in streams)
        for port in site.server_ports:
            assert connections(port).get("websocket", 0) >= 1, f"no WebSocket viewer on {port}"
            assert connections(port).get("sse", 0) >= 1, f"no SSE viewer on {port}"
        status, body = site.request(
            "POST",
            "/api/auth/token/",
            source="127.0.0.9",
            body={"username": "olive", "password": PASSWORD},
        )
        assert status == 200, body
        token = json.loads(body)["token"]
        assert post_comment(site.server_ports[0], token, broadcast_id, "from process A") == 201
        for ws in sockets:
            assert "from process A" in websocket_texts(ws)
        for response in streams:
            assert "from process A" in sse_texts(response)
