"""Frames written straight to uvicorn's socket: valid WebSocket frames and SSE chunks, in order
with what goes through ASGI's ``send``, and never after the connection closed."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
import websockets
from channels.db import database_sync_to_async
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from livevideo.selectors import broadcast_topic
from realtime.protocol import (
    KEEPALIVE,
    Batch,
    http_chunk,
    make_event,
    sse_message,
    websocket_text_frame,
)
from realtime.publish import publish
from realtime.rawsend import RawBodyWriter, raw_body_writer, raw_writer
from realtime.runtime import get_history, get_hub
from tests.factories import BroadcastFactory
from tests.realtime.streamtools import realtime_settings
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


async def other_servers_send(message: dict[str, Any]) -> None:
    pass


def test_other_servers_sends_get_no_raw_writer():
    assert raw_writer(other_servers_send) is None


async def serving(
    app: Any, ws: Any = "websockets-sansio", **options: Any
) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    """``app`` under an in-process uvicorn with the production protocols (``ws``: uvicorn's
    own sans-I/O one by default; ``options``: more of ``uvicorn.Config``); once it listens."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http="httptools",
        ws=ws,
        log_level="warning",
        lifespan="off",
        **options,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event for it)
            await asyncio.sleep(0.02)
    return server, task, port


def batch_of(name: str) -> Batch:
    return Batch([make_event(name, {})])


async def test_under_uvicorn_frames_go_straight_to_the_socket_in_order_until_it_closes():
    outcome: dict[str, Any] = {}
    disconnected = asyncio.Event()
    one, three = batch_of("one"), batch_of("three")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket"
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        writer = raw_writer(send)
        outcome["writer"] = writer
        writer.write(one)
        await send({"type": "websocket.send", "text": '"two"'})
        writer.write(three)
        await receive()  # websocket.disconnect
        outcome["after_close"] = writer.write(batch_of("late"))
        disconnected.set()

    server, serving_task, port = await serving(app)
    try:
        async with asyncio.timeout(10):
            async with websockets.connect(f"ws://127.0.0.1:{port}/") as client:
                received = [await client.recv() for _ in range(3)]
            await disconnected.wait()
    finally:
        server.should_exit = True
        await serving_task
    assert outcome["writer"] is not None
    assert received == [one.text, '"two"', three.text]
    assert outcome["after_close"] is False


def test_an_sse_chunk_is_one_whole_http_chunk_of_the_message():
    batch = Batch([make_event("x", {"n": 1}, event_id=7)])
    size, _, rest = batch.sse_chunk.partition(b"\r\n")
    assert int(size, 16) == len(rest) - 2
    assert rest.endswith(b"\r\n")
    assert rest[:-2] == b"id: 7\ndata: " + batch.text.encode() + b"\n\n"
    assert http_chunk(b"") == b"0\r\n\r\n"  # (the body's end: never written raw)


async def test_under_uvicorn_sse_chunks_go_straight_to_the_socket_between_the_responses_own():
    outcome: dict[str, Any] = {}

    two = Batch([make_event("two", {}, event_id=2)])

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        writer = raw_body_writer(send)
        assert writer is not None  # uvicorn's send
        outcome["before_start"] = writer.write(batch_of("too early"))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"one,", "more_body": True})
        outcome["raw"] = writer.write(two)
        await send({"type": "http.response.body", "body": b"three", "more_body": False})
        outcome["after_end"] = writer.write(batch_of("too late"))

    server, serving_task, port = await serving(app)
    try:
        async with asyncio.timeout(10):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            response = await reader.read()
            writer.close()
    finally:
        server.should_exit = True
        await serving_task
    head, _, body = response.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    assert body == b"4\r\none,\r\n" + two.sse_chunk + b"5\r\nthree\r\n0\r\n\r\n"
    assert outcome == {"before_start": False, "raw": True, "after_end": False}


def test_outside_uvicorn_there_is_no_raw_body_writer():
    assert raw_body_writer(other_servers_send) is None


async def read_chunk(reader: asyncio.StreamReader) -> bytes:
    """One chunk of a chunked HTTP/1.1 body."""
    size = int(await reader.readline(), 16)
    chunk = await reader.readexactly(size + 2)
    assert chunk.endswith(b"\r\n")
    return chunk[:-2]


@contextlib.asynccontextmanager
async def sse_viewer(broadcast: Any) -> AsyncIterator[asyncio.StreamReader]:
    """The app under uvicorn and one viewer's SSE stream of ``broadcast``, its request sent; on
    the way out the viewer leaves (the hub hears of it) and the server stops."""
    from livevideo.asgi import application

    server, serving_task, port = await serving(application)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        path = f"/sse/broadcasts/{broadcast.pk}/"
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        yield reader
        writer.close()
        async with asyncio.timeout(10):
            while get_hub().topics:  # noqa: ASYNC110 (until the server hears of the close)
                await asyncio.sleep(0.02)
    finally:
        writer.close()  # else the server waits for the stream to end before it stops
        server.should_exit = True
        await serving_task


@pytest.mark.django_db(transaction=True)
async def test_under_uvicorn_the_apps_sse_body_is_chunked_and_the_hub_writes_straight_to_it(
    monkeypatch,
):
    written_at_once: list[bool] = []

    def spy(writer: RawBodyWriter, batch: Batch) -> bool:
        written = write(writer, batch)
        written_at_once.append(written)
        return written

    write = RawBodyWriter.write
    monkeypatch.setattr(RawBodyWriter, "write", spy)
    broadcast = await database_sync_to_async(BroadcastFactory)(live=True)
    async with sse_viewer(broadcast) as reader:
        async with asyncio.timeout(10):
            head = (await reader.readuntil(b"\r\n\r\n")).lower()
            assert head.startswith(b"http/1.1 200")
            assert b"transfer-encoding: chunked" in head  # no Content-Length: uvicorn chunks
            assert (await read_chunk(reader)).startswith(b"retry: 2000\n")  # and hello
            publish(broadcast_topic(broadcast.pk), "tick", {"n": 1})
            events: list[dict[str, Any]] = []
            while "tick" not in [e["type"] for e in events]:  # a viewers snapshot may come first
                message = await read_chunk(reader)
                assert message.endswith(b"\n\n")  # one whole message per chunk
                events += json.loads(message.split(b"data: ", 1)[1])
            assert events[-1]["data"] == {"n": 1}
            assert written_at_once
            assert all(written_at_once)


def test_a_lone_keepalive_is_an_sse_comment_and_anything_else_a_message():
    keepalive = Batch([make_event(KEEPALIVE, {})])
    assert keepalive.sse_message == b": keepalive\n\n"
    assert keepalive.sse_chunk == b"d\r\n: keepalive\n\n\r\n"
    event = make_event("x", {"n": 1}, event_id=9)
    assert Batch([event]).sse_message == b"id: 9\ndata: [" + event.encoded.encode() + b"]\n\n"
    with_keepalive = Batch([make_event(KEEPALIVE, {}), event])  # not alone: a message
    assert with_keepalive.sse_message == sse_message(with_keepalive.events)


@pytest.mark.django_db(transaction=True)
async def test_under_uvicorn_an_sse_viewer_gets_the_same_bytes_straight_from_the_hub(
    settings, monkeypatch
):
    """The hub's raw writes put on the wire exactly what a message through ``send`` would:
    an event as ``id:`` and ``data:`` in one chunk, and a keep-alive as a comment."""
    realtime_settings(settings, KEEPALIVE_INTERVAL=0.2)
    raw_writes: list[bytes] = []
    write = RawBodyWriter.write

    def spy(writer: RawBodyWriter, batch: Batch) -> bool:
        written = write(writer, batch)
        raw_writes.append(batch.sse_chunk if written else b"")
        return written

    monkeypatch.setattr(RawBodyWriter, "write", spy)
    broadcast = await database_sync_to_async(BroadcastFactory)(live=True)
    topic = broadcast_topic(broadcast.pk)
    async with sse_viewer(broadcast) as reader:
        async with asyncio.timeout(10):
            await reader.readuntil(b"\r\n\r\n")
            await read_chunk(reader)  # retry and hello
            # Until the stream is idle (a viewers snapshot may come first), then the event alone.
            while await read_chunk(reader) != b": keepalive\n\n":
                pass
            publish(topic, "tick", {"n": 1})
            chunks = []
            while not chunks or chunks[-1] != b": keepalive\n\n":
                chunks.append(await read_chunk(reader))
            [tick] = [c for c in chunks if b'"tick"' in c]
            [event] = (await get_history().replay(topic, 0)).events[-1:]
            assert tick == f"id: {event.id}\ndata: [{event.encoded}]\n\n".encode()
            assert http_chunk(tick) in raw_writes  # written straight to the socket
            assert http_chunk(b": keepalive\n\n") in raw_writes
