"""What a client sends over the WebSocket: ``ping``, messages that get an ``error`` (the
socket stays open), the ``ref`` an error echoes, and message types handled concurrently."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.realtime.consumers.topicconsumer import TopicConsumer, client
from tests.realtime.streamtools import WSClient, realtime_settings


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


# Concurrent message types -----------------------------------------------------------------


async def held_client(settings: Any) -> WSClient:
    """A client of a consumer whose "slow" messages wait until ``TopicConsumer.release``."""
    realtime_settings(settings)
    TopicConsumer.release = asyncio.Event()
    ws = client("conc")
    await ws.connect()
    return ws


async def test_a_concurrent_message_does_not_hold_up_the_next_ones(settings):
    ws = await held_client(settings)
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
    ws = await held_client(settings)
    for ref in ("a", "b", "c"):  # max_concurrent is 2: the third waits for a free slot...
        await ws.send({"type": "slow", "refuse": True, "ref": ref})
    await ws.send({"type": "ping"})  # ... and so does everything after it
    await ws.nothing_more()
    TopicConsumer.release.set()
    answers = await ws.receive(4)
    assert sorted(e["data"].get("ref", "~pong") for e in answers) == ["a", "b", "c", "~pong"]
    await ws.close()
