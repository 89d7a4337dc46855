"""Frames written straight to uvicorn's socket: valid WebSocket frames, in order with what
goes through ASGI's ``send``, and never after the connection closed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvicorn
import websockets
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from realtime.protocol import Batch, make_event, websocket_text_frame
from realtime.rawsend import raw_writer
from tests.servers import free_port


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 70000])
def test_a_text_frame_parses_as_one_whole_frame(size):
    payload = b"x" * size
    reader = StreamReader()
    reader.feed_data(websocket_text_frame(payload))
    parser = Frame.parse(reader.read_exact, mask=False)
    with pytest.raises(StopIteration) as done:
        next(parser)
    parsed = done.value.value
    assert (parsed.opcode, parsed.fin, parsed.data) == (Opcode.TEXT, True, payload)
    assert not reader.buffer  # nothing left over


def test_a_batch_frame_carries_its_text():
    batch = Batch([make_event("x", {"n": 1}, event_id=1), make_event("x", {"n": 2}, event_id=2)])
    assert batch.websocket_frame == websocket_text_frame(batch.text.encode())
    assert batch.websocket_frame is batch.websocket_frame  # built once


def test_other_servers_sends_get_no_raw_writer():
    async def send(message: dict[str, Any]) -> None:
        pass

    assert raw_writer(send) is None


async def test_under_uvicorn_frames_go_straight_to_the_socket_in_order_until_it_closes():
    outcome: dict[str, Any] = {}
    disconnected = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket"
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        writer = raw_writer(send)
        outcome["writer"] = writer
        writer.write(websocket_text_frame(b'"one"'))
        await send({"type": "websocket.send", "text": '"two"'})
        writer.write(websocket_text_frame(b'"three"'))
        await receive()  # websocket.disconnect
        outcome["after_close"] = writer.write(websocket_text_frame(b'"late"'))
        disconnected.set()

    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        ws="websockets-sansio",
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 (uvicorn offers no event for it)
                await asyncio.sleep(0.02)
            async with websockets.connect(f"ws://127.0.0.1:{port}/") as client:
                received = [await client.recv() for _ in range(3)]
            await disconnected.wait()
    finally:
        server.should_exit = True
        await serving
    assert outcome["writer"] is not None
    assert received == ['"one"', '"two"', '"three"']
    assert outcome["after_close"] is False
