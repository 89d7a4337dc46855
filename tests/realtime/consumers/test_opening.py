"""Opening a WebSocket stream: an unknown or refused topic closed with its code, ``hello``
first, the replay (or ``reset``) after ``last_event_id``, and the open and close hooks."""

from __future__ import annotations

from realtime.publish import aflush, publish
from realtime.runtime import get_hub
from tests.realtime.consumers.topicconsumer import TopicConsumer, client
from tests.realtime.streamtools import newest_id, realtime_settings


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
