"""How events go out to a WebSocket client: in order, in frames (JSON arrays; what queues while
the writer is busy goes in one), keep-alives while idle, a stalled client dropped (4008), the
metrics, and ``start``, which lets the hub write without a writer task."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from realtime import metrics
from realtime.publish import aflush, publish
from realtime.runtime import get_hub
from realtime.transport import start
from tests.realtime.consumers.topicconsumer import application, client
from tests.realtime.streamtools import consecutive, realtime_settings, stalling


async def test_events_published_after_connecting_arrive_in_order():
    ws = client("a")
    await ws.connect()
    for n in range(3):
        publish("test.a", "shouted", {"n": n})
    publish("test.a", "viewers", {"count": 2}, recoverable=False)
    publish("test.b", "shouted", {"n": "elsewhere"})
    events = await ws.receive(4)
    assert [(e["type"], e["data"]) for e in events] == [
        ("shouted", {"n": 0}),
        ("shouted", {"n": 1}),
        ("shouted", {"n": 2}),
        ("viewers", {"count": 2}),
    ]
    assert [e["id"] for e in events] == [*consecutive(events[0]["id"], 3), None]
    await ws.nothing_more()
    await ws.close()


async def test_what_queues_while_the_writer_is_busy_goes_out_in_one_frame():
    stalled, release = asyncio.Event(), asyncio.Event()
    ws = client("a", app=stalling(application, stalled, release, sends="websocket.send"))
    await ws.connect()
    publish("test.a", "shouted", {"n": 0})
    await asyncio.wait_for(stalled.wait(), 3)  # the writer is sending frame [0]
    for n in range(1, 5):
        publish("test.a", "shouted", {"n": n})
    await aflush()
    await asyncio.sleep(0.05)  # every event has reached the connection's queue
    release.set()
    [first] = await ws.frame()
    assert [e["id"] for e in await ws.frame()] == consecutive(first["id"] + 1, 4)
    await ws.close()


async def test_a_frame_is_a_json_array_of_events():
    ws = client("a")
    await ws.communicator.connect()
    text = await ws.communicator.receive_from()
    assert text[0] + text[-1] == "[]"
    assert set(json.loads(text)[0]) == {"type", "id", "ts", "data"}
    await ws.close()


async def test_connections_and_frames_are_counted():
    def value(metric: Any, **labels: str) -> float:
        return (metric.labels(**labels) if labels else metric)._value.get()

    open_before = value(metrics.CONNECTIONS, transport="websocket")
    frames_before = value(metrics.FRAMES_SENT)
    ws = client("a")
    await ws.connect()
    assert value(metrics.CONNECTIONS, transport="websocket") == open_before + 1
    publish("test.a", "shouted", {})
    await ws.receive(1)
    await ws.close()
    assert value(metrics.CONNECTIONS, transport="websocket") == open_before
    assert value(metrics.FRAMES_SENT) >= frames_before + 1
    assert value(metrics.EVENTS_PUBLISHED, type="shouted") >= 1


async def test_an_idle_stream_gets_keepalives(settings):
    realtime_settings(settings, KEEPALIVE_INTERVAL=0.05)
    ws = client("a")
    await ws.connect()
    [keepalive] = await ws.frame()
    assert (keepalive["type"], keepalive["id"], keepalive["data"]) == ("keepalive", None, {})
    await ws.close()


async def test_no_keepalive_while_events_flow_then_one_after_the_interval(settings):
    realtime_settings(settings, KEEPALIVE_INTERVAL=0.3)
    ws = client("a")
    await ws.connect()
    for n in range(8):  # 0.5 s of events, each well within the interval of the one before
        publish("test.a", "shouted", {"n": n})
        await aflush()
        await asyncio.sleep(0.06)
    received = []
    while not received or received[-1]["type"] != "keepalive":
        received += await ws.frame(wait=1)
    assert [e["type"] for e in received] == ["shouted"] * 8 + ["keepalive"]
    await ws.close()


async def test_a_stalled_client_is_dropped_while_others_keep_receiving(settings):
    realtime_settings(settings, MAX_BACKLOG=10)
    dropped = metrics.SLOW_CLIENTS_DROPPED._value.get()
    stalled = asyncio.Event()
    healthy = client("a")
    slow = client("a", app=stalling(application, stalled, sends="websocket.send"))
    await healthy.connect()
    await slow.connect()

    publish("test.a", "shouted", {"n": 0})
    await asyncio.wait_for(stalled.wait(), 3)  # the slow one's writer is now stuck
    for n in range(1, 30):
        publish("test.a", "shouted", {"n": n})

    assert await slow.closed_with() == 4008
    received = await healthy.receive(30)
    assert [e["data"]["n"] for e in received] == list(range(30))
    assert len(get_hub().topics["test.a"]) == 1  # only the healthy one is left
    assert metrics.SLOW_CLIENTS_DROPPED._value.get() == dropped + 1
    await slow.close()
    await healthy.close()


# ``start``: how the hub writes a frame without waking a writer task ---------------


async def test_start_runs_a_send_that_needs_no_wait_to_the_end_at_once():
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    assert start(send("a")) is None
    assert sent == ["a"]


async def test_start_hands_back_the_rest_of_a_send_that_must_wait():
    writable, sent = asyncio.Event(), []

    async def send(text: str) -> None:
        await writable.wait()
        sent.append(text)

    rest = start(send("a"))
    assert rest is not None
    assert sent == []
    waiter = asyncio.ensure_future(_awaited(rest))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    writable.set()
    await asyncio.wait_for(waiter, 1)
    assert sent == ["a"]


async def test_the_rest_of_a_send_passes_on_its_failure_and_its_cancellation():
    cleaned = asyncio.Event()

    async def failing() -> None:
        await asyncio.sleep(0)
        raise ConnectionResetError

    async def stuck() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.set()

    with pytest.raises(ConnectionResetError):
        await _awaited(start(failing()))
    waiter = asyncio.ensure_future(_awaited(start(stuck())))
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert cleaned.is_set()


async def _awaited(rest: Any) -> None:
    await rest
