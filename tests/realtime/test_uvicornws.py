"""uvicorn's sans-I/O WebSocket protocol as ``realtime.uvicornws`` trims it: its message queue
and ``writable`` flag behave as the ``asyncio`` ones they replace, and a real uvicorn serves
WebSockets with it (messages both ways, in order; the direct writes; the close)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from typing import Any

import pytest
import websockets
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from realtime.protocol import Batch, make_event
from realtime.rawsend import raw_writer
from realtime.uvicornws import (
    UVICORN_VERSIONS,
    TrimmedWebSocketProtocol,
    WebSocketProtocol,
    _Flag,
    _Inbox,
    protocol_for,
)
from tests.realtime.test_rawsend import serving


async def test_the_inbox_hands_out_messages_in_order_and_waits_when_empty():
    inbox = _Inbox()
    assert inbox.empty()
    inbox.put_nowait(1)
    inbox.put_nowait(2)
    assert not inbox.empty()
    assert [await inbox.get(), await inbox.get()] == [1, 2]
    assert inbox.empty()
    waiting = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    inbox.put_nowait(3)
    assert await asyncio.wait_for(waiting, 1) == 3


async def test_waiting_getters_are_served_in_turn():
    inbox = _Inbox()
    getters = [asyncio.ensure_future(inbox.get()) for _ in range(3)]
    await asyncio.sleep(0)
    for n in range(3):
        inbox.put_nowait(n)
    assert await asyncio.wait_for(asyncio.gather(*getters), 1) == [0, 1, 2]


async def test_a_getter_cancelled_after_its_wake_up_hands_the_message_on():
    inbox = _Inbox()
    first = asyncio.ensure_future(inbox.get())
    second = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("m")  # wakes ``first``...
    first.cancel()  # ...which is cancelled before it runs
    assert await asyncio.wait_for(second, 1) == "m"
    assert first.cancelled()
    assert inbox.empty()


async def test_the_flag_waits_until_set():
    flag = _Flag()
    assert not flag.is_set()
    waiters = [asyncio.ensure_future(flag.wait()) for _ in range(2)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    flag.set()
    assert flag.is_set()
    assert await asyncio.wait_for(asyncio.gather(*waiters), 1) == [True, True]
    assert await flag.wait()  # set: returns at once
    flag.clear()
    assert not flag.is_set()
    cancelled = asyncio.ensure_future(flag.wait())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    flag.set()


async def test_a_real_uvicorn_serves_websockets_with_it():
    seen: dict[str, Any] = {}
    done = asyncio.Event()
    direct = Batch([make_event("direct", {})])

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        protocol = send.__self__
        seen["protocol"] = protocol
        seen["handshake_kept"] = (protocol.request, protocol.response)
        # websockets' parser holds the request for the life of the connection.
        seen["request_headers"] = dict(protocol.conn.parser.gi_frame.f_locals["request"].headers)
        writer = raw_writer(send)
        seen["writer"] = writer
        writer.write(direct)
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                seen["disconnect"] = message
                seen["attributes_outside_slots"] = set(vars(protocol))
                break
            await send({"type": "websocket.send", "text": "echo " + message["text"]})
        done.set()

    server, serving_task, port = await serving(app, ws=WebSocketProtocol)
    try:
        async with asyncio.timeout(10):
            async with websockets.connect(f"ws://127.0.0.1:{port}/") as client:
                assert await client.recv() == direct.text
                for n in range(5):
                    await client.send(str(n))
                assert [await client.recv() for _ in range(5)] == [f"echo {n}" for n in range(5)]
            await done.wait()
    finally:
        server.should_exit = True
        await serving_task
    assert isinstance(seen["protocol"], WebSocketProtocol)
    assert seen["writer"] is not None  # raw writes recognise it as uvicorn's own
    assert seen["handshake_kept"] == (None, None)
    assert seen["request_headers"] == {}
    assert seen["disconnect"]["code"] == 1000
    # Everything uvicorn set on the protocol over the connection's life is in a slot.
    assert seen["attributes_outside_slots"] == set()


def send_too_big_then_read(port: int) -> bytes:
    """Open a WebSocket by hand, send a 4 MB text frame without reading anything, wait, then
    read what the server sent after its handshake answer, to its end (``<reset>`` when the
    connection was reset: a proxy in between may then drop the tunnel, close frame and all)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(4096)
        payload = 4_000_000
        header = bytes([0x81, 0xFF]) + payload.to_bytes(8, "big") + b"\0\0\0\0"  # masked
        with contextlib.suppress(OSError):  # the server may stop reading: fine
            sock.sendall(header + b"x" * payload)
        time.sleep(0.2)  # a reset, if the server sent one, has arrived by now
        received = answer.split(b"\r\n\r\n", 1)[1]
        try:
            while chunk := sock.recv(4096):
                received += chunk
        except ConnectionResetError:
            received += b"<reset>"
        return received


async def test_a_message_over_the_size_cap_closes_with_1009_that_the_client_receives():
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass

    server, serving_task, port = await serving(app, ws=WebSocketProtocol, ws_max_size=1024)
    try:
        received = await asyncio.wait_for(asyncio.to_thread(send_too_big_then_read, port), 10)
    finally:
        server.should_exit = True
        await serving_task
    # A close frame (opcode 8) whose code is 1009: the client learns why it was closed.
    assert received[0] == 0x88
    assert int.from_bytes(received[2:4], "big") == 1009
    assert not received.endswith(b"<reset>")  # an orderly close, not a reset


def test_the_installed_uvicorn_gets_the_trimmed_protocol():
    assert WebSocketProtocol is TrimmedWebSocketProtocol


def test_another_uvicorn_gets_its_own_protocol_and_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="realtime.uvicornws"):
        protocol = protocol_for("0.99.1")
    assert protocol is WebSocketsSansIOProtocol
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "0.99.1" in record.getMessage()
    assert "uvicorn's own" in record.getMessage()


def test_a_patch_release_of_a_known_uvicorn_keeps_the_trimmed_protocol(caplog):
    with caplog.at_level(logging.WARNING, logger="realtime.uvicornws"):
        assert protocol_for(f"{UVICORN_VERSIONS[0]}.7") is TrimmedWebSocketProtocol
    assert caplog.records == []
