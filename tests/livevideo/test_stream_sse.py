"""A broadcast's stream over Server-Sent Events: ``GET /sse/broadcasts/<id>/``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from channels.db import database_sync_to_async

from livevideo import selectors, services
from livevideo.models import Broadcast
from presence import tracker
from realtime import shutdown
from realtime.publish import aflush, publish
from realtime.runtime import get_hub
from tests.factories import BroadcastFactory, UserFactory
from tests.realtime.streamtools import (
    SSEClient,
    consecutive,
    newest_id,
    realtime_settings,
    stalling,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_realtime")]

run = database_sync_to_async


@pytest.fixture
def broadcaster() -> Any:
    return UserFactory(username="bea")


@pytest.fixture
def broadcast(broadcaster: Any) -> Broadcast:
    return BroadcastFactory(broadcaster=broadcaster, live=True)


@pytest.fixture
def viewer() -> Any:
    return UserFactory(username="vic")


def stream(broadcast: Broadcast, query: str = "", headers: Any = None) -> SSEClient:
    return SSEClient(f"/sse/broadcasts/{broadcast.pk}/{query}", headers=headers)


async def comment(broadcast: Broadcast, author: Any, text: str) -> Any:
    return await run(services.comment_create)(broadcast=broadcast, author=author, text=text)


async def next_recoverable(sse: SSEClient, count: int) -> tuple[list[dict[str, Any]], list[Any]]:
    """The next ``count`` events with ids, and the ``id:`` of each message that carried them."""
    events: list[dict[str, Any]] = []
    ids: list[Any] = []
    async with asyncio.timeout(5):
        while len(events) < count:
            message = await sse.message()
            if message["data"] is None:
                continue  # a keep-alive comment
            with_ids = [e for e in message["data"] if e["id"] is not None]
            events += with_ids
            ids.append(message["id"])
            assert message["id"] == (str(with_ids[-1]["id"]) if with_ids else None)
    return events, ids


@pytest.mark.parametrize("broadcast_id", [999999, 2**64])
async def test_an_unknown_broadcast_is_a_json_404(broadcast_id):
    sse = SSEClient(f"/sse/broadcasts/{broadcast_id}/")
    assert await sse.open() == 404
    assert sse.headers["content-type"] == "application/json"
    assert json.loads(sse.body) == {"detail": "Not found."}


async def test_the_stream_opens_with_a_retry_hint_and_hello(broadcast):
    sse = stream(broadcast)
    assert await sse.open() == 200
    assert sse.headers["content-type"].startswith("text/event-stream")
    assert sse.headers["cache-control"] == "no-cache"
    first = await sse.message()
    assert first["retry"] == "2000"
    assert first["id"] is None  # hello has no id
    [hello] = first["data"]
    assert (hello["type"], hello["id"]) == ("hello", None)
    assert hello["data"]["broadcast"]["id"] == broadcast.pk
    assert hello["data"]["last_event_id"] == 0
    await sse.close()


async def test_every_event_type_arrives_and_messages_carry_their_last_id(
    broadcast, broadcaster, viewer
):
    sse = stream(broadcast)
    await sse.open()
    await sse.message()
    created = await comment(broadcast, viewer, "hi")
    await run(services.reaction_create)(broadcast=broadcast, user=viewer, kind="like")
    await run(services.comment_remove)(comment=created, actor=viewer)
    await run(services.broadcast_end)(broadcast=broadcast, actor=broadcaster)
    topic = selectors.broadcast_topic(broadcast.pk)
    publish(
        topic, "presence", {"joined": [selectors.user_data(viewer)], "left": []}, recoverable=False
    )
    await aflush()

    wanted = {"comment.created", "comment.removed", "broadcast.status", "reactions", "presence"}
    got: dict[str, dict[str, Any]] = {}
    async with asyncio.timeout(5):
        while not wanted <= got.keys():
            message = await sse.message()
            for event in message["data"] or []:
                got[event["type"]] = event
            with_ids = [e["id"] for e in message["data"] or [] if e["id"] is not None]
            assert message["id"] == (str(with_ids[-1]) if with_ids else None)
    assert got["comment.created"]["data"] == selectors.comment_data(created)
    assert got["comment.removed"]["data"] == {"id": created.pk}
    assert got["broadcast.status"]["data"]["status"] == "ended"
    assert got["reactions"]["data"]["totals"]["like"] == 1
    assert got["presence"]["data"]["joined"] == [selectors.user_data(viewer)]
    ids = [got[t]["id"] for t in ("comment.created", "comment.removed", "broadcast.status")]
    assert ids == consecutive(ids[0], 3)
    await sse.close()


@pytest.mark.parametrize("how", ["header", "query", "header wins over query"])
async def test_resuming_replays_exactly_what_was_missed(broadcast, viewer, how):
    for text in ("one", "two", "three", "four"):
        await comment(broadcast, viewer, text)
    await aflush()
    four = await newest_id(selectors.broadcast_topic(broadcast.pk))
    two = str(four - 2)
    if how == "header":
        sse = stream(broadcast, headers=[(b"last-event-id", two.encode())])
    elif how == "query":
        sse = stream(broadcast, f"?last_event_id={two}")
    else:
        sse = stream(broadcast, "?last_event_id=0", headers=[(b"last-event-id", two.encode())])
    await sse.open()
    first = await sse.message()
    hello, *replay = first["data"]
    assert hello["type"] == "hello"
    assert hello["data"]["last_event_id"] == four
    assert [(e["id"], e["data"]["text"]) for e in replay] == [
        (four - 1, "three"),
        (four, "four"),
    ]
    assert first["id"] == str(four)
    await comment(broadcast, viewer, "five")
    events, _ = await next_recoverable(sse, 1)
    assert [(e["id"], e["data"]["text"]) for e in events] == [(four + 1, "five")]
    await sse.close()


async def test_a_cursor_older_than_the_history_gets_reset(broadcast, viewer, settings):
    realtime_settings(settings, HISTORY_SIZE=2)
    for n in range(4):
        await comment(broadcast, viewer, f"c{n}")
    await aflush()
    last = await newest_id(selectors.broadcast_topic(broadcast.pk))
    sse = stream(broadcast, headers=[(b"last-event-id", str(last - 3).encode())])  # c0's
    await sse.open()
    hello, reset = (await sse.message())["data"]
    assert hello["type"] == "hello"
    assert (reset["type"], reset["data"]) == ("reset", {"last_event_id": last})
    await sse.close()


async def test_a_bad_last_event_id_is_a_400(broadcast):
    sse = stream(broadcast, "?last_event_id=abc")
    assert await sse.open() == 400
    assert "last_event_id" in json.loads(sse.body)["detail"]


async def test_an_idle_stream_sends_keepalive_comments(broadcast, settings):
    realtime_settings(settings, KEEPALIVE_INTERVAL=0.05)
    sse = stream(broadcast)
    await sse.open()
    await sse.message()
    async with asyncio.timeout(3):
        while (await sse.message())["comment"] != "keepalive":
            pass
    await sse.close()


async def test_a_client_that_goes_away_leaves_the_topic(broadcast, viewer, monkeypatch):
    closed: list[dict[str, Any]] = []
    opened: list[dict[str, Any]] = []
    live = asyncio.Event()

    async def record_open(**kwargs: Any) -> None:
        opened.append(kwargs)
        live.set()

    async def record_close(**kwargs: Any) -> None:
        closed.append(kwargs)

    monkeypatch.setattr(tracker, "connection_opened", record_open)
    monkeypatch.setattr(tracker, "connection_closed", record_close)
    sse = stream(broadcast)
    await sse.open()
    await sse.message()
    topic = selectors.broadcast_topic(broadcast.pk)
    await asyncio.wait_for(live.wait(), 3)  # stream_opened runs once the hello is out
    assert len(get_hub().topics[topic]) == 1
    await sse.close()
    assert get_hub().topics == {}
    assert closed == opened
    assert opened[0]["client"] == "127.0.0.1"  # anonymous viewers are counted per address


async def test_a_stalled_client_leaves_the_topic_and_its_stream_ends(broadcast, viewer, settings):
    realtime_settings(settings, MAX_BACKLOG=5)
    from livevideo.asgi import application

    release = asyncio.Event()
    stalled = asyncio.Event()
    healthy = stream(broadcast)
    slow = SSEClient(
        f"/sse/broadcasts/{broadcast.pk}/",
        application=stalling(application, stalled, release, sends="http.response.body"),
    )
    await healthy.open()
    await healthy.message()
    await slow.open()
    await slow.message()
    topic = selectors.broadcast_topic(broadcast.pk)
    publish(topic, "tick", {"n": 0})
    await asyncio.wait_for(stalled.wait(), 3)
    for n in range(1, 12):
        publish(topic, "tick", {"n": n})
    events, _ = await next_recoverable(healthy, 12)
    assert [e["data"]["n"] for e in events] == list(range(12))
    assert len(get_hub().topics[topic]) == 1  # the stalled one has left

    release.set()  # the client reads again: what it had is sent, then the stream ends
    assert await slow.ended()
    await healthy.close()


async def test_a_client_that_stops_reading_for_a_while_gets_everything_in_order(broadcast):
    from livevideo.asgi import application

    release, stalled = asyncio.Event(), asyncio.Event()
    sse = SSEClient(
        f"/sse/broadcasts/{broadcast.pk}/",
        application=stalling(application, stalled, release, sends="http.response.body"),
    )
    await sse.open()
    await sse.message()
    topic = selectors.broadcast_topic(broadcast.pk)
    publish(topic, "tick", {"n": 0})
    await asyncio.wait_for(stalled.wait(), 3)  # that write waits; the next ones queue behind it
    for n in range(1, 6):
        publish(topic, "tick", {"n": n})
    await aflush()
    release.set()
    events, _ = await next_recoverable(sse, 6)
    assert [e["data"]["n"] for e in events] == list(range(6))
    assert [e["id"] for e in events] == consecutive(events[0]["id"], 6)
    await sse.close()


async def test_an_open_stream_holds_no_task_but_its_own(broadcast):
    streams = [stream(broadcast) for _ in range(6)]
    await streams[0].open()
    await streams[0].message()
    await asyncio.sleep(0.1)  # the hooks' work done
    before = asyncio.all_tasks()
    for sse in streams[1:]:
        await sse.open()
        await sse.message()
    await asyncio.sleep(0.1)
    assert len(asyncio.all_tasks()) == len(before) + 5  # each request's own (the test's client)
    for sse in streams:
        await sse.close()


async def test_when_the_server_stops_the_stream_ends_with_a_retry_hint(broadcast):
    sse = stream(broadcast)
    await sse.open()
    await sse.message()
    shutdown._announce()  # what SIGTERM does, once uvicorn's handler has been called
    try:
        async with asyncio.timeout(3):
            while (chunk := await sse.communicator.receive_output(3)).get("more_body"):
                pass
        assert chunk["body"] == shutdown.GOODBYE
        assert get_hub().topics == {}
    finally:
        shutdown._stopped.discard(asyncio.get_running_loop())  # this test's loop only
