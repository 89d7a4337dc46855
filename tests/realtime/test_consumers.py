"""The generic WebSocket transport, with a small consumer of its own."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from channels.routing import URLRouter
from django.urls import path

from realtime import metrics
from realtime.consumers import ClientError, StreamConsumer, start
from realtime.hub import get_hub
from realtime.publish import aflush, publish
from tests.realtime.streamtools import (
    WSClient,
    consecutive,
    newest_id,
    realtime_settings,
    stalling,
)


class TopicConsumer(StreamConsumer):
    """``t/<name>/`` watches ``test.<name>``; "missing" does not exist, "secret" is refused.
    A "slow" message is answered when ``release`` is set: an error, or nothing."""

    release: asyncio.Event

    client_message_types = ("shout", "fail", "slow")
    concurrent_message_types = ("slow",)
    max_concurrent = 2
    opened: list[str] = []
    closed: list[str] = []

    async def get_topic(self) -> str | None:
        name = self.route_kwargs["name"]
        return None if name == "missing" else f"test.{name}"

    async def authorize(self, topic: str) -> bool:
        return topic != "test.secret"

    async def get_hello_data(self) -> dict[str, Any]:
        return {"topic": self.connection.topic}  # type: ignore[union-attr]

    async def stream_opened(self) -> None:
        self.opened.append(self.connection.id)  # type: ignore[union-attr]

    async def stream_closed(self) -> None:
        self.closed.append(self.connection.id)  # type: ignore[union-attr]

    async def receive_shout(self, message: dict[str, Any]) -> None:
        if not isinstance(message.get("text"), str):
            raise ClientError("invalid", "text must be a string")
        publish(self.connection.topic, "shouted", {"text": message["text"]})  # type: ignore[union-attr]

    async def receive_fail(self, message: dict[str, Any]) -> None:
        raise RuntimeError("a bug")

    async def receive_slow(self, message: dict[str, Any]) -> None:
        await self.release.wait()
        if message.get("refuse"):
            raise ClientError("conflict", "refused after a while")


application = URLRouter([path("t/<str:name>/", TopicConsumer.as_asgi())])


def client(name: str, query: str = "", app: Any = application) -> WSClient:
    return WSClient(f"/t/{name}/{query}", application=app)


async def test_hello_comes_first_with_the_hooks_data_and_the_newest_id():
    publish("test.a", "shouted", {"text": "before"})
    await aflush()
    newest = await newest_id("test.a")
    ws = client("a")
    [hello] = await ws.connect()
    assert hello["type"] == "hello"
    assert hello["id"] is None
    assert isinstance(hello["ts"], float)
    assert hello["data"] == {"topic": "test.a", "last_event_id": newest}
    assert newest > 0
    await ws.nothing_more()  # no replay without last_event_id
    await ws.close()


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


async def test_resuming_replays_exactly_the_missed_events_then_live_ones():
    first = client("a")
    await first.connect()
    publish("test.a", "shouted", {"n": 1})
    [seen] = await first.receive(1)
    await first.close()
    for n in (2, 3, 4):
        publish("test.a", "shouted", {"n": n})
    await aflush()

    again = client("a", f"?last_event_id={seen['id']}")
    hello, *replayed = await again.connect()  # one frame: hello, then the replay
    one = seen["id"]
    assert hello["type"] == "hello"
    assert hello["data"]["last_event_id"] == one + 3
    assert [(e["id"], e["data"]["n"]) for e in replayed] == [
        (one + 1, 2),
        (one + 2, 3),
        (one + 3, 4),
    ]
    publish("test.a", "shouted", {"n": 5})
    assert [e["id"] for e in await again.receive(1)] == [one + 4]
    await again.nothing_more()
    await again.close()


async def test_a_cursor_older_than_history_gets_reset(settings):
    realtime_settings(settings, HISTORY_SIZE=3)
    for n in range(6):
        publish("test.a", "shouted", {"n": n})
    await aflush()
    last = await newest_id("test.a")
    ws = client("a", f"?last_event_id={last - 5}")  # the first one's: the next two are gone
    hello, reset = await ws.connect()
    assert hello["type"] == "hello"
    assert (reset["type"], reset["id"], reset["data"]) == ("reset", None, {"last_event_id": last})
    publish("test.a", "shouted", {"n": 6})
    assert [e["id"] for e in await ws.receive(1)] == [last + 1]
    await ws.close()


async def test_a_bad_last_event_id_is_an_error_and_the_stream_goes_on():
    ws = client("a", "?last_event_id=-3")
    hello, error = await ws.connect()
    assert hello["type"] == "hello"
    assert error["type"] == "error"
    assert error["data"]["code"] == "invalid"
    publish("test.a", "shouted", {})
    assert [e["type"] for e in await ws.receive(1)] == ["shouted"]
    await ws.close()


async def test_ping_gets_pong():
    ws = client("a")
    await ws.connect()
    await ws.send({"type": "ping"})
    [pong] = await ws.receive(1)
    assert (pong["type"], pong["id"], pong["data"]) == ("pong", None, {})
    await ws.close()


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ({"text": "not json"}, "Not valid JSON."),
        ({"text": "[1, 2]"}, 'Send a JSON object with a string "type".'),
        ({"text": '{"kind": "like"}'}, 'Send a JSON object with a string "type".'),
        ({"text": '{"type": 5}'}, 'Send a JSON object with a string "type".'),
        ({"text": '{"type": "dance"}'}, "Unknown message type 'dance'."),
        ({"text": '{"type": "__class__"}'}, "Unknown message type '__class__'."),
        ({"data": b"\x00\x01"}, "Send JSON text frames."),
        ({"text": '{"type": "shout", "text": 5}'}, "text must be a string"),
        ({"text": '{"type": "fail"}'}, "Something went wrong; try again."),
    ],
)
async def test_a_bad_client_message_gets_an_error_and_the_socket_stays_open(frame, message):
    ws = client("a")
    await ws.connect()
    await ws.send_raw(**frame)
    [error] = await ws.receive(1)
    assert error["type"] == "error"
    assert error["id"] is None
    assert error["data"]["message"] == message
    assert error["data"]["code"] in ("invalid", "internal")
    await ws.send({"type": "shout", "text": "still here"})
    [shouted] = await ws.receive(1)
    assert shouted["data"] == {"text": "still here"}
    await ws.close()


# ``ref``: a client message's tag, echoed by the error that answers it ------------------------


@pytest.mark.parametrize("ref", ["tap-1", "", "r" * 64, 7, 0, -3, 2**53 - 1])
@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"type": "shout", "text": 5}, "invalid"),  # the receive_ method refuses it
        ({"type": "dance"}, "invalid"),  # an unknown type
        ({"type": 5}, "invalid"),  # an object, but no string type
        ({"type": "fail"}, "internal"),  # a bug
    ],
)
async def test_an_error_answering_a_message_with_a_ref_carries_the_ref(message, code, ref):
    ws = client("a")
    await ws.connect()
    await ws.send({**message, "ref": ref})
    [error] = await ws.receive(1)
    assert error["type"] == "error"
    assert error["data"]["code"] == code
    assert error["data"]["ref"] == ref
    assert type(error["data"]["ref"]) is type(ref)
    await ws.close()


@pytest.mark.parametrize(
    "ref_json",
    [
        '"' + "r" * 65 + '"',  # too long
        str(2**53),  # more than a JavaScript number holds exactly
        "-" + str(2**53),
        "1" * 4000,
        "1.5",
        "2.0",
        "true",
        "null",
        '["tap-1"]',
        '{"id": 1}',
        '"\\ud800"',  # a lone surrogate: no frame could carry it back
    ],
)
async def test_a_message_with_a_bad_ref_gets_its_error_without_one(ref_json):
    ws = client("a")
    await ws.connect()
    await ws.send_raw(text='{"type": "shout", "text": 5, "ref": ' + ref_json + "}")
    [error] = await ws.receive(1)
    assert error["data"] == {"code": "invalid", "message": "text must be a string"}
    await ws.send({"type": "shout", "text": "still here", "ref": 1})
    [shouted] = await ws.receive(1)
    assert shouted["data"] == {"text": "still here"}
    await ws.close()


async def test_an_error_answering_a_message_without_a_ref_has_none():
    ws = client("a")
    await ws.connect()
    await ws.send({"type": "shout", "text": 5})
    [error] = await ws.receive(1)
    assert error["data"] == {"code": "invalid", "message": "text must be a string"}
    await ws.close()


async def test_a_message_with_a_ref_that_succeeds_gets_no_answer_of_its_own():
    ws = client("a")
    await ws.connect()
    await ws.send({"type": "shout", "text": "hi", "ref": "tap-1"})
    await ws.send({"type": "ping", "ref": "ping-1"})
    received = await ws.receive(2)  # the shout is published, the pong replied: either first
    assert sorted((e["type"], e["data"]) for e in received) == [
        ("pong", {}),
        ("shouted", {"text": "hi"}),
    ]
    await ws.nothing_more()
    await ws.close()


async def test_an_unknown_topic_is_closed_with_4404():
    ws = client("missing")
    connected, _ = await ws.communicator.connect()
    assert connected  # accepted first, so that browsers see the code
    assert await ws.closed_with() == 4404
    assert get_hub().topics == {}


async def test_a_refused_topic_is_closed_with_4403():
    ws = client("secret")
    await ws.communicator.connect()
    assert await ws.closed_with() == 4403


async def test_hooks_hear_of_open_and_close_and_the_hub_is_left_empty():
    TopicConsumer.opened.clear()
    TopicConsumer.closed.clear()
    ws = client("a")
    await ws.connect()
    assert len(TopicConsumer.opened) == 1
    assert get_hub().topics.keys() == {"test.a"}
    await ws.close()
    assert TopicConsumer.closed == TopicConsumer.opened
    assert get_hub().topics == {}


async def test_a_failing_hook_does_not_break_the_stream(monkeypatch):
    async def broken(self: TopicConsumer) -> None:
        raise RuntimeError("presence is down")

    monkeypatch.setattr(TopicConsumer, "stream_opened", broken)
    monkeypatch.setattr(TopicConsumer, "stream_closed", broken)
    ws = client("a")
    await ws.connect()
    publish("test.a", "shouted", {})
    assert [e["type"] for e in await ws.receive(1)] == ["shouted"]
    await ws.close()


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


# ``start``: how the hub writes a frame without waking the connection's writer ---------------


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


# Concurrent message types -----------------------------------------------------------------


async def test_a_concurrent_message_does_not_hold_up_the_next_ones(settings):
    realtime_settings(settings)
    TopicConsumer.release = asyncio.Event()
    ws = client("conc")
    await ws.connect()
    await ws.send({"type": "slow", "refuse": True, "ref": "s1"})
    await ws.send({"type": "ping"})
    assert [e["type"] for e in await ws.receive(1)] == ["pong"]  # not after s1's answer
    TopicConsumer.release.set()
    [error] = await ws.receive(1)
    assert (error["type"], error["data"]["code"], error["data"]["ref"]) == (
        "error",
        "conflict",
        "s1",
    )
    await ws.close()


async def test_at_most_max_concurrent_run_at_once_per_connection(settings):
    realtime_settings(settings)
    TopicConsumer.release = asyncio.Event()
    ws = client("conc")
    await ws.connect()
    for ref in ("a", "b", "c"):  # max_concurrent is 2: the third waits for a free slot...
        await ws.send({"type": "slow", "refuse": True, "ref": ref})
    await ws.send({"type": "ping"})  # ... and so does everything after it
    await ws.nothing_more()
    TopicConsumer.release.set()
    answers = await ws.receive(4)
    assert sorted(e["data"].get("ref", "~pong") for e in answers) == ["a", "b", "c", "~pong"]
    await ws.close()
