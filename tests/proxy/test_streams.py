"""Streams under the documented command line: WebSocket message size cap (1009), and a stop
(SIGTERM) that ends SSE streams at once and finishes in bounded time."""

from __future__ import annotations

import http.client
import signal
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.proxy.conftest import answers, start_documented_uvicorn
from tests.servers import free_port, wait_until


def test_a_websocket_message_over_the_cap_is_refused_with_1009(site, broadcast_id):
    url = f"ws://127.0.0.1:{site.port}/ws/broadcasts/{broadcast_id}/"
    with connect(url, origin=f"http://127.0.0.1:{site.port}", max_size=None) as ws:
        assert '"hello"' in ws.recv(timeout=5)
        ws.send('{"type": "ping"}')
        while '"pong"' not in ws.recv(timeout=5):
            pass
        ws.send('{"type": "comment", "text": "' + "x" * 100_000 + '"}')
        with pytest.raises(ConnectionClosed) as closed:
            _until_closed(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


def _until_closed(ws) -> None:
    while True:
        ws.recv(timeout=5)


def test_sigterm_ends_sse_streams_and_the_process_stops_in_time(site, broadcast_id):
    port = free_port()
    log = site.directory / f"stopping-{port}.log"
    server = start_documented_uvicorn(site.env, site.args, port, log)
    try:
        assert wait_until(lambda: answers(port), timeout=30), log.read_text()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", f"/sse/broadcasts/{broadcast_id}/")
        response = connection.getresponse()
        assert response.status == 200
        assert b"hello" in response.read1()
        ws = connect(
            f"ws://127.0.0.1:{port}/ws/broadcasts/{broadcast_id}/",
            origin=f"http://127.0.0.1:{port}",
        )
        ws.recv(timeout=5)
        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        rest = b""
        try:
            while chunk := response.read1():
                rest += chunk
        except http.client.IncompleteRead as cut:
            raise AssertionError(f"cut: {rest!r}\n{log.read_text()}") from cut
        ended = time.monotonic() - started
        assert b"retry: 100" in rest
        assert ended < 3, f"the SSE response ended after {ended:.1f} s"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1012
        server.wait(timeout=10)
        assert time.monotonic() - started < 5
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
