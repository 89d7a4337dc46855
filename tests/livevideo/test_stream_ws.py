"""A broadcast's stream over WebSocket: ``ws/broadcasts/<id>/``."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from channels.db import database_sync_to_async

from livevideo import consumers, selectors, services
from livevideo.models import Broadcast
from presence import tracker
from presence.backends import get_store
from realtime.protocol import make_event
from realtime.publish import aflush
from realtime.runtime import get_hub
from tests.factories import BroadcastFactory, UserFactory
from tests.livevideo.streams import next_of, recoverable, token_of, watch
from tests.realtime.streamtools import (
    WSClient,
    consecutive,
    newest_id,
    realtime_settings,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_realtime")]

run = database_sync_to_async
RECOVERABLE = ("comment.created", "comment.removed", "broadcast.status")


@pytest.fixture
def broadcaster() -> Any:
    return UserFactory(username="bea", first_name="Bea")


@pytest.fixture
def broadcast(broadcaster: Any) -> Broadcast:
    return BroadcastFactory(broadcaster=broadcaster, live=True)


@pytest.fixture
def viewer() -> Any:
    return UserFactory(username="vic", first_name="Vic")


async def test_hello_comes_first_with_the_broadcast_as_rest_shows_it(broadcast):
    ws = watch(broadcast)
    [hello] = await ws.connect()
    assert (hello["type"], hello["id"]) == ("hello", None)
    assert hello["data"]["last_event_id"] == 0
    expected = await run(selectors.broadcast_data)(broadcast)
    assert {**hello["data"]["broadcast"], "viewers": 0} == {**expected, "viewers": 0}
    await ws.close()


async def test_a_hello_counts_its_viewers_once(broadcast, monkeypatch):
    """The hello's count is the one read with the viewer's own presence write: the broadcast's
    read that hellos share (in a worker thread) reads no count of its own to throw away."""
    store = get_store()
    loop_thread, off_loop_reads = threading.get_ident(), []
    read = store.viewer_counts

    def viewer_counts(topics: Any) -> dict[str, int]:
        if threading.get_ident() != loop_thread:  # the tracker reads on the loop
            off_loop_reads.append(list(topics))
        return read(topics)

    monkeypatch.setattr(store, "viewer_counts", viewer_counts)
    ws = watch(broadcast)
    [hello] = await ws.connect()
    assert hello["data"]["broadcast"]["viewers"] == 1
    assert off_loop_reads == []
    await ws.close()


async def test_a_hello_after_a_totals_snapshot_shows_it_without_reading_again(
    broadcast, viewer, settings, monkeypatch
):
    """Viewers joining while only snapshots are announced (a reconnect storm with reactions
    coming in) share one read of the broadcast, the newest totals put in."""
    realtime_settings(settings, FLUSH_INTERVAL=3.0)  # what the hub is handed waits a moment
    reads = []
    load = consumers._details.load

    async def counted(broadcast_id: int) -> Any:
        reads.append(broadcast_id)
        return await load(broadcast_id)

    monkeypatch.setattr(consumers._details, "load", counted)
    first = watch(broadcast)
    await first.connect()
    topic = selectors.broadcast_topic(broadcast.pk)
    get_hub().deliver(topic, make_event("viewers", {"count": 1}))
    await next_of(first, "viewers")  # a sweep has just gone: the next one is 3 s away
    second = watch(broadcast)
    [hello] = await second.connect()  # its read (or the first's, amended) is kept
    assert hello["data"]["broadcast"]["reactions"]["total"] == 0
    read_before = len(reads)
    await run(services.reaction_create)(broadcast=broadcast, user=viewer, kind="like")
    await aflush()
    fanout = get_hub().topics[topic]
    for _ in range(500):  # the snapshot reaches this loop's hub (over Redis: a moment later)
        if any(event.type == "reactions" for event in fanout.log):
            break
        await asyncio.sleep(0.01)
    third = watch(broadcast)
    [hello] = await third.connect()
    stored = await run(selectors.reaction_totals)(broadcast_id=broadcast.pk)
    assert stored["total"] == 1
    assert hello["data"]["broadcast"]["reactions"] == stored
    assert len(reads) == read_before
    for ws in (first, second, third):
        await ws.close()


@pytest.mark.parametrize("broadcast_id", [999999, 2**64])
async def test_an_unknown_broadcast_is_closed_with_4404(broadcast_id):
    ws = WSClient(f"/ws/broadcasts/{broadcast_id}/")
    connected, _ = await ws.communicator.connect()
    assert connected
    assert await ws.closed_with() == 4404


@pytest.mark.parametrize("path", ["/ws/nothing-here/1/", "/ws/broadcasts/one/", "/"])
async def test_an_address_with_no_stream_is_refused_at_the_handshake(path):
    """Refused (the server answers 403), not a server error."""
    ws = WSClient(path)
    connected, _ = await ws.communicator.connect()
    assert not connected


async def test_every_event_type_reaches_the_socket(broadcast, broadcaster, viewer):
    viewer_headers = await run(token_of)(viewer)
    ws = watch(broadcast)
    await ws.connect()
    other = watch(broadcast, headers=viewer_headers)  # a signed-in viewer joins
    await other.connect()
    seen = {
        e["type"]: e
        for e in await ws.receive_until(
            lambda got: {"viewers", "presence"} <= {e["type"] for e in got}, 5
        )
    }
    assert seen["viewers"]["data"]["count"] >= 1
    assert seen["presence"]["data"]["joined"] == [selectors.user_data(viewer)]

    comment = await run(services.comment_create)(broadcast=broadcast, author=viewer, text="hi")
    created = await next_of(ws, "comment.created")
    assert created["data"] == selectors.comment_data(comment)

    await run(services.reaction_create)(broadcast=broadcast, user=viewer, kind="love")
    reactions = await next_of(ws, "reactions")
    assert reactions["id"] is None
    assert reactions["data"]["totals"]["love"] == 1
    assert reactions["data"]["total"] == 1

    await run(services.comment_remove)(comment=comment, actor=broadcaster)
    removed = await next_of(ws, "comment.removed")
    assert removed["data"] == {"id": comment.pk}

    ended = await run(services.broadcast_end)(broadcast=broadcast, actor=broadcaster)
    status = await next_of(ws, "broadcast.status")
    assert status["data"] == selectors.status_data(ended)
    assert [created["id"], removed["id"], status["id"]] == consecutive(created["id"], 3)
    await other.close()
    await ws.close()


async def test_reconnecting_with_last_event_id_replays_exactly_what_was_missed(broadcast, viewer):
    ws = watch(broadcast)
    await ws.connect()
    for text in ("one", "two"):
        await run(services.comment_create)(broadcast=broadcast, author=viewer, text=text)
    first = await recoverable(ws, 2)
    await ws.close()

    missed = [
        await run(services.comment_create)(broadcast=broadcast, author=viewer, text=text)
        for text in ("three", "four")
    ]
    await run(services.comment_remove)(comment=missed[0], actor=viewer)
    await aflush()

    seen = first[-1]["id"]
    again = watch(broadcast, f"?last_event_id={seen}")
    hello, *replay = await again.connect()
    assert hello["type"] == "hello"
    assert hello["data"]["last_event_id"] == seen + 3
    assert [(e["type"], e["id"]) for e in replay] == [
        ("comment.created", seen + 1),
        ("comment.created", seen + 2),
        ("comment.removed", seen + 3),
    ]
    assert replay[0]["data"]["text"] == "three"
    await run(services.comment_create)(broadcast=broadcast, author=viewer, text="live")
    [live] = await recoverable(again, 1)
    assert (live["id"], live["data"]["text"]) == (seen + 4, "live")
    await again.close()


async def test_a_cursor_older_than_the_history_gets_reset(broadcast, viewer, settings):
    realtime_settings(settings, HISTORY_SIZE=2)
    for n in range(4):
        await run(services.comment_create)(broadcast=broadcast, author=viewer, text=f"c{n}")
    await aflush()
    last = await newest_id(selectors.broadcast_topic(broadcast.pk))
    ws = watch(broadcast, f"?last_event_id={last - 3}")  # c0's: c1 is gone
    hello, reset = await ws.connect()
    assert hello["type"] == "hello"
    assert (reset["type"], reset["data"]) == ("reset", {"last_event_id": last})
    await ws.close()


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"type": "reaction"}, "invalid"),
        ({"type": "reaction", "kind": 5}, "invalid"),
        ({"type": "reaction", "kind": "meh"}, "invalid"),
        ({"type": "comment"}, "invalid"),
        ({"type": "comment", "text": ["hi"]}, "invalid"),
        ({"type": "comment", "text": "   "}, "invalid"),
        ({"type": "comment", "text": "x" * 501}, "invalid"),
        ({"type": "subscribe", "topic": "broadcast.2"}, "invalid"),
        ("not an object", "invalid"),
    ],
)
async def test_a_bad_message_gets_an_error_and_the_socket_stays_open(
    broadcast, viewer, message, code
):
    ws = watch(broadcast, headers=await run(token_of)(viewer))
    await ws.connect()
    await ws.send(message)
    error = await next_of(ws, "error")
    assert error["id"] is None
    assert error["data"]["code"] == code
    assert error["data"]["message"]
    await ws.send({"type": "ping"})
    assert (await next_of(ws, "pong"))["data"] == {}
    await ws.close()


async def test_an_ended_broadcast_can_still_be_watched_and_replayed(broadcast, broadcaster):
    await run(services.broadcast_end)(broadcast=broadcast, actor=broadcaster)
    await aflush()
    ws = watch(broadcast, "?last_event_id=0")
    hello, status = await ws.connect()
    assert hello["data"]["broadcast"]["status"] == "ended"
    assert (status["type"], status["id"], status["data"]["status"]) == (
        "broadcast.status",
        hello["data"]["last_event_id"],
        "ended",
    )
    await ws.close()


async def test_presence_hears_of_each_connection_with_its_user(broadcast, viewer, monkeypatch):
    calls: list[tuple[str, dict[str, Any]]] = []

    async def opened(**kwargs: Any) -> None:
        calls.append(("opened", kwargs))

    async def closed(**kwargs: Any) -> None:
        calls.append(("closed", kwargs))

    monkeypatch.setattr(tracker, "connection_opened", opened)
    monkeypatch.setattr(tracker, "connection_closed", closed)
    signed_in = watch(broadcast, headers=await run(token_of)(viewer))
    await signed_in.connect()
    anonymous = watch(broadcast)
    await anonymous.connect()
    await signed_in.close()
    await anonymous.close()
    topic = selectors.broadcast_topic(broadcast.pk)
    assert [(what, kw["topic"], kw["user"]) for what, kw in calls] == [
        ("opened", topic, selectors.user_data(viewer)),
        ("opened", topic, None),
        ("closed", topic, selectors.user_data(viewer)),
        ("closed", topic, None),
    ]
    assert calls[0][1]["connection_id"] == calls[2][1]["connection_id"]
    assert calls[0][1]["connection_id"] != calls[1][1]["connection_id"]
    assert get_hub().topics == {}


async def test_a_presence_failure_never_breaks_the_stream(broadcast, viewer, monkeypatch):
    async def broken(**kwargs: Any) -> None:
        raise ConnectionError("presence store down")

    monkeypatch.setattr(tracker, "connection_opened", broken)
    monkeypatch.setattr(tracker, "connection_closed", broken)
    ws = watch(broadcast)
    await ws.connect()
    await run(services.comment_create)(broadcast=broadcast, author=viewer, text="hi")
    assert (await next_of(ws, "comment.created"))["data"]["text"] == "hi"
    await ws.close()


async def test_reaction_totals_converge_to_the_stored_totals_after_a_burst(broadcast, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "REACTION": (1000, 1.0)}
    realtime_settings(settings, SNAPSHOT_INTERVAL=0.05)
    users = await run(lambda: [UserFactory() for _ in range(4)])()
    ws = watch(broadcast)
    await ws.connect()
    socket_user = watch(broadcast, headers=await run(token_of)(users[0]))
    await socket_user.connect()

    def tap(user: Any, kinds: list[str]) -> None:
        fresh = Broadcast.objects.get(pk=broadcast.pk)
        for kind in kinds:
            services.reaction_create(broadcast=fresh, user=user, kind=kind)

    kinds = ["like", "love", "funny", "like", "insightful"] * 4
    threads = [threading.Thread(target=tap, args=(user, kinds)) for user in users[1:]]
    for thread in threads:
        thread.start()
    for kind in kinds[:10]:
        await socket_user.send({"type": "reaction", "kind": kind})
    await socket_user.send({"type": "ping"})  # messages are handled in order:
    await next_of(socket_user, "pong", wait=30)  # the pong means the reactions are stored
    await asyncio.to_thread(lambda: [thread.join() for thread in threads])

    stored = await run(selectors.reaction_totals)(broadcast_id=broadcast.pk)
    assert stored["total"] == 3 * len(kinds) + 10
    snapshots = await ws.receive_until(
        lambda got: bool(got) and got[-1]["type"] == "reactions" and got[-1]["data"] == stored, 30
    )
    assert sum(e["type"] == "reactions" for e in snapshots) < stored["total"]  # coalesced
    await aflush()
    later = await ws.collect(0.3)
    assert all(e["data"] == stored for e in later if e["type"] == "reactions")
    await socket_user.close()
    await ws.close()
