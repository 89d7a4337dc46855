"""A broadcast's stream over WebSocket: ``ws/broadcasts/<id>/``."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.conf import settings as django_settings
from django.test import Client
from rest_framework.authtoken.models import Token

from livevideo import selectors, services
from livevideo.models import Broadcast, Comment
from presence import tracker
from realtime.publish import aflush
from realtime.runtime import get_hub
from tests.factories import BroadcastFactory, UserFactory
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


def token_of(user: Any) -> list[tuple[bytes, bytes]]:
    token, _ = Token.objects.get_or_create(user=user)
    return [(b"authorization", f"Token {token.key}".encode())]


def session_of(user: Any) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    name = django_settings.SESSION_COOKIE_NAME
    return [(b"cookie", f"{name}={client.cookies[name].value}".encode())]


def watch(broadcast: Broadcast, query: str = "", headers: Any = None) -> WSClient:
    return WSClient(f"/ws/broadcasts/{broadcast.pk}/{query}", headers=headers)


async def next_of(ws: WSClient, event_type: str, wait: float = 5) -> dict[str, Any]:
    """The next event of ``event_type``, skipping others."""
    events = await ws.receive_until(lambda got: bool(got) and got[-1]["type"] == event_type, wait)
    return events[-1]


async def recoverable(ws: WSClient, count: int) -> list[dict[str, Any]]:
    """The next ``count`` events that have ids, skipping snapshots."""
    events = await ws.receive_until(lambda got: sum(e["id"] is not None for e in got) >= count, 5)
    return [e for e in events if e["id"] is not None]


async def test_hello_comes_first_with_the_broadcast_as_rest_shows_it(broadcast):
    ws = watch(broadcast)
    [hello] = await ws.connect()
    assert (hello["type"], hello["id"]) == ("hello", None)
    assert hello["data"]["last_event_id"] == 0
    expected = await run(selectors.broadcast_data)(broadcast)
    assert {**hello["data"]["broadcast"], "viewers": 0} == {**expected, "viewers": 0}
    await ws.close()


@pytest.mark.parametrize("broadcast_id", [999999, 2**64])
async def test_an_unknown_broadcast_is_closed_with_4404(broadcast_id):
    ws = WSClient(f"/ws/broadcasts/{broadcast_id}/")
    connected, _ = await ws.communicator.connect()
    assert connected
    assert await ws.closed_with() == 4404


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


async def test_anonymous_viewers_may_watch_but_not_take_part(broadcast):
    ws = watch(broadcast)
    await ws.connect()
    for message in ({"type": "reaction", "kind": "like"}, {"type": "comment", "text": "hi"}):
        await ws.send(message)
        assert (await next_of(ws, "error"))["data"]["code"] == "forbidden"
    await ws.close()


async def test_a_signed_in_viewer_reacts_and_comments_over_the_socket(broadcast, viewer):
    watcher = watch(broadcast)
    await watcher.connect()
    ws = watch(broadcast, headers=await run(session_of)(viewer))
    await ws.connect()
    await ws.send({"type": "reaction", "kind": "like"})
    await ws.send({"type": "comment", "text": "  hello from the socket "})
    events = await watcher.receive_until(
        lambda got: {"comment.created", "reactions"} <= {e["type"] for e in got}, 5
    )
    seen = {e["type"]: e for e in events}
    assert seen["comment.created"]["data"]["text"] == "hello from the socket"
    assert seen["comment.created"]["data"]["author"] == selectors.user_data(viewer)
    assert seen["reactions"]["data"]["totals"]["like"] == 1
    assert await run(Comment.objects.filter(broadcast=broadcast, author=viewer).count)() == 1
    await ws.close()
    await watcher.close()


async def test_reactions_over_the_socket_count_against_the_client_address(
    broadcast, viewer, settings
):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "ADDRESS_REACTION": (1, 60.0)}
    other = await run(UserFactory)()
    first = watch(broadcast, headers=await run(token_of)(viewer))
    second = watch(broadcast, headers=await run(token_of)(other))
    for ws in (first, second):
        ws.communicator.scope["client"] = ("203.0.113.7", 40000)  # one network, two accounts
    await first.connect()
    await second.connect()
    await first.send({"type": "reaction", "kind": "like"})
    await second.send({"type": "reaction", "kind": "like"})
    refused = await next_of(second, "error")
    assert refused["data"]["code"] == "rate_limited"
    assert "network" in refused["data"]["message"]
    await first.close()
    await second.close()


async def test_comments_over_the_socket_count_against_the_client_address(
    broadcast, viewer, settings
):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "ADDRESS_COMMENT": (1, 60.0)}
    other = await run(UserFactory)()
    first = watch(broadcast, headers=await run(token_of)(viewer))
    second = watch(broadcast, headers=await run(token_of)(other))
    for ws in (first, second):
        ws.communicator.scope["client"] = ("203.0.113.7", 40000)  # one network, two accounts
    await first.connect()
    await second.connect()
    await first.send({"type": "comment", "text": "first"})
    await next_of(first, "comment.created")
    await second.send({"type": "comment", "text": "second"})
    refused = await next_of(second, "error")
    assert refused["data"]["code"] == "rate_limited"
    assert "network" in refused["data"]["message"]
    assert await run(Comment.objects.filter(broadcast=broadcast).count)() == 1
    await first.close()
    await second.close()


async def test_refusals_carry_the_service_code(broadcast, broadcaster, viewer):
    ws = watch(broadcast, headers=await run(token_of)(viewer))
    await ws.connect()
    for n in range(6):  # five comments per ten seconds
        await ws.send({"type": "comment", "text": f"c{n}"})
    limited = await next_of(ws, "error")
    assert limited["data"]["code"] == "rate_limited"
    assert limited["data"]["retry_after"] >= 1

    await run(services.broadcast_end)(broadcast=broadcast, actor=broadcaster)
    await ws.send({"type": "reaction", "kind": "like"})
    assert (await next_of(ws, "error"))["data"]["code"] == "conflict"
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


async def test_hello_tells_each_viewer_their_own_state(broadcast, broadcaster, viewer):
    await run(services.user_timeout)(
        broadcast=broadcast, actor=broadcaster, user=viewer, seconds=600, reason="calm down"
    )
    anonymous = watch(broadcast)
    [hello] = await anonymous.connect()
    assert hello["data"]["you"] == {"role": "anonymous", "barred": None}
    timed_out = watch(broadcast, headers=await run(token_of)(viewer))
    [hello] = await timed_out.connect()
    you = hello["data"]["you"]
    assert you["role"] == "viewer"
    assert you["barred"]["reason"] == "calm down"
    assert you["barred"]["until"].endswith("Z")
    owner = watch(broadcast, headers=await run(token_of)(broadcaster))
    [hello] = await owner.connect()
    assert hello["data"]["you"] == {"role": "broadcaster", "barred": None}
    for ws in (anonymous, timed_out, owner):
        await ws.close()


async def test_bans_and_chat_rules_are_announced_live(broadcast, broadcaster, viewer):
    ws = watch(broadcast, headers=await run(token_of)(viewer))
    await ws.connect()

    await run(services.user_ban)(broadcast=broadcast, actor=broadcaster, user=viewer)
    banned = await next_of(ws, "viewer.state")
    assert banned["data"] == {"user_id": viewer.pk, "barred": {"until": None}}

    await run(services.user_unban)(broadcast=broadcast, actor=broadcaster, user=viewer)
    back = await next_of(ws, "viewer.state")
    assert back["data"] == {"user_id": viewer.pk, "barred": None}

    await run(services.moderation_settings_update)(
        broadcast=broadcast,
        actor=broadcaster,
        slow_mode_seconds=30,
        blocked_words="spoiler",
        allow_links=True,
    )
    rules = await next_of(ws, "chat.rules")
    assert rules["data"] == {"slow_mode_seconds": 30, "links_allowed": True, "blocked_words": True}
    await ws.close()
