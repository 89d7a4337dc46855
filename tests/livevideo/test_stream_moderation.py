"""Moderating over a broadcast's WebSocket (``livevideo.stream_moderation``): each message, for
each role, and what the affected viewer's stream then shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from channels.db import database_sync_to_async

from livevideo import services
from livevideo.models import Broadcast, BroadcastBan, Comment
from realtime.publish import aflush
from tests.factories import BroadcastFactory, UserFactory
from tests.livevideo.streams import next_of, token_of, watch

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_realtime")]

run = database_sync_to_async

ALLOWED = ("broadcaster", "moderator")
REFUSED = ("other_moderator", "viewer", "banned", "anonymous")


@dataclass
class Room:
    """A live broadcast with its people, and another broadcast with its own moderator."""

    broadcast: Broadcast
    other: Broadcast
    people: dict[str, Any]  # role -> user (anonymous: None)
    vic: Any  # the viewer every action is about
    comment: Comment  # vic's comment
    held: Comment  # vic's comment held for review


def _room() -> Room:
    broadcaster = UserFactory(username="bea")
    broadcast = BroadcastFactory(broadcaster=broadcaster, live=True)
    other = BroadcastFactory(broadcaster=UserFactory(username="olga"), live=True)
    moderator, other_moderator = UserFactory(username="mo"), UserFactory(username="omar")
    services.moderator_appoint(broadcast=broadcast, actor=broadcaster, user=moderator)
    services.moderator_appoint(broadcast=other, actor=other.broadcaster, user=other_moderator)
    banned = UserFactory(username="ben")
    services.user_ban(broadcast=broadcast, actor=broadcaster, user=banned)
    vic = UserFactory(username="vic")
    return Room(
        broadcast=broadcast,
        other=other,
        people={
            "broadcaster": broadcaster,
            "moderator": moderator,
            "other_moderator": other_moderator,
            "viewer": UserFactory(username="val"),
            "banned": banned,
            "anonymous": None,
        },
        vic=vic,
        comment=Comment.objects.create(broadcast=broadcast, author=vic, text="hello"),
        held=Comment.objects.create(broadcast=broadcast, author=vic, text="free", is_held=True),
    )


@pytest.fixture
def room() -> Room:
    return _room()


async def connect_as(room: Room, user: Any, broadcast: Broadcast | None = None) -> Any:
    headers = await run(token_of)(user) if user is not None else None
    ws = watch(broadcast or room.broadcast, headers=headers)
    await ws.connect()
    return ws


# Each message: how to prepare for it, what to send, and what vic's stream shows when it works.


def _pin(room: Room) -> None:
    services.comment_pin(comment=room.comment, actor=room.broadcast.broadcaster)


def _time_out_vic(room: Room) -> None:
    services.user_timeout(
        broadcast=room.broadcast, actor=room.broadcast.broadcaster, user=room.vic, seconds=60
    )


CASES: dict[str, dict[str, Any]] = {
    "comment.remove": {
        "send": lambda room: {"id": room.comment.pk},
        "shows": ("comment.removed", lambda room, data: data == {"id": room.comment.pk}),
        "stored": lambda room: Comment.objects.get(pk=room.comment.pk).is_removed,
    },
    "comment.pin": {
        "send": lambda room: {"id": room.comment.pk},
        "shows": ("comment.pinned", lambda room, data: data["comment"]["id"] == room.comment.pk),
        "stored": lambda room: (
            Broadcast.objects.get(pk=room.broadcast.pk).pinned_comment_id == room.comment.pk
        ),
    },
    "comment.unpin": {
        "before": _pin,
        "send": lambda room: {},
        "shows": ("comment.pinned", lambda room, data: data == {"comment": None}),
        "stored": lambda room: (
            Broadcast.objects.get(pk=room.broadcast.pk).pinned_comment_id is None
        ),
    },
    "comment.approve": {
        "send": lambda room: {"id": room.held.pk},
        "shows": ("comment.created", lambda room, data: data["id"] == room.held.pk),
        "stored": lambda room: not Comment.objects.get(pk=room.held.pk).is_held,
    },
    "user.timeout": {
        "send": lambda room: {"user_id": room.vic.pk, "seconds": 600, "reason": "calm down"},
        "shows": (
            "viewer.state",
            lambda room, data: data["user_id"] == room.vic.pk and data["barred"]["until"],
        ),
        "stored": lambda room: BroadcastBan.objects.filter(user=room.vic).exists(),
    },
    "user.ban": {
        "send": lambda room: {"user_id": room.vic.pk, "remove_comments": True},
        "shows": (
            "viewer.state",
            lambda room, data: data == {"user_id": room.vic.pk, "barred": {"until": None}},
        ),
        "stored": lambda room: (
            BroadcastBan.objects.filter(user=room.vic, until=None).exists()
            and Comment.objects.get(pk=room.comment.pk).is_removed
        ),
    },
    "user.unban": {
        "before": _time_out_vic,
        "send": lambda room: {"user_id": room.vic.pk},
        "shows": (
            "viewer.state",
            lambda room, data: data == {"user_id": room.vic.pk, "barred": None},
        ),
        "stored": lambda room: not BroadcastBan.objects.filter(user=room.vic).exists(),
    },
}


async def send_as(room: Room, role: str, message_type: str, ref: str | int) -> tuple[Any, ...]:
    """Prepare for ``message_type``, connect vic and the actor, and send it as ``role``:
    (the case, vic's socket, the actor's socket)."""
    case = CASES[message_type]
    if "before" in case:
        await run(case["before"])(room)
        await aflush()  # its own events are out before vic connects
    vic = await connect_as(room, room.vic)
    actor = await connect_as(room, room.people[role])
    await actor.send({"type": message_type, "ref": ref, **case["send"](room)})
    return case, vic, actor


@pytest.mark.parametrize("role", ALLOWED)
@pytest.mark.parametrize("message_type", CASES)
async def test_the_broadcaster_and_its_moderators_act_live(room, role, message_type):
    case, vic, actor = await send_as(room, role, message_type, ref="m1")

    ack = await next_of(actor, "ack")
    assert ack["data"]["ref"] == "m1"
    assert ack["data"]["message"] == message_type
    event_type, shows = case["shows"]
    seen = await next_of(vic, event_type)
    assert shows(room, seen["data"])
    assert await run(case["stored"])(room)
    await actor.close()
    await vic.close()


@pytest.mark.parametrize("role", REFUSED)
@pytest.mark.parametrize("message_type", CASES)
async def test_nobody_else_may_and_the_viewer_sees_nothing(room, role, message_type):
    case, vic, actor = await send_as(room, role, message_type, ref=7)

    error = await next_of(actor, "error")
    assert (error["data"]["code"], error["data"]["ref"]) == ("forbidden", 7)
    event_type, _ = case["shows"]
    assert event_type not in {e["type"] for e in await vic.collect(0.3)}
    assert not await run(case["stored"])(room)
    await actor.send({"type": "ping"})  # the connection stays open
    await next_of(actor, "pong")
    await actor.close()
    await vic.close()


async def test_a_moderator_of_one_broadcast_cannot_reach_another_s_comments(room):
    others = await run(Comment.objects.create)(broadcast=room.other, author=room.vic, text="b")
    moderator = await connect_as(room, room.people["moderator"])
    for message_type in ("comment.remove", "comment.pin", "comment.approve"):
        await moderator.send({"type": message_type, "id": others.pk})
        assert (await next_of(moderator, "error"))["data"]["code"] == "not_found"
    await moderator.close()

    on_other = await connect_as(room, room.people["moderator"], room.other)
    await on_other.send({"type": "comment.remove", "id": others.pk})
    assert (await next_of(on_other, "error"))["data"]["code"] == "forbidden"
    await on_other.close()
    assert not (await run(Comment.objects.get)(pk=others.pk)).is_removed


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"type": "comment.remove"}, "invalid"),
        ({"type": "comment.remove", "id": "1"}, "invalid"),
        ({"type": "comment.pin", "id": True}, "invalid"),
        ({"type": "comment.remove", "id": 2**70}, "invalid"),
        ({"type": "comment.remove", "id": 999_999}, "not_found"),
        ({"type": "user.ban", "user_id": 999_999}, "not_found"),
        ({"type": "user.ban", "user_id": None}, "invalid"),
        ({"type": "user.ban", "user_id": "VIC", "remove_comments": "yes"}, "invalid"),
        ({"type": "user.timeout", "user_id": "VIC", "seconds": 0}, "invalid"),
        ({"type": "user.timeout", "user_id": "VIC", "seconds": True}, "invalid"),
        ({"type": "user.timeout", "user_id": "VIC", "seconds": "60"}, "invalid"),
        ({"type": "user.timeout", "user_id": "VIC", "seconds": 60, "reason": 5}, "invalid"),
        ({"type": "user.ban", "user_id": "MO"}, "forbidden"),  # moderators cannot be barred
        ({"type": "comment.approve", "id": "REMOVED"}, "not_found"),
    ],
)
async def test_bad_moderation_messages_get_an_error_and_the_socket_stays_open(room, message, code):
    removed = await run(services.comment_remove)(
        comment=await run(Comment.objects.create)(broadcast=room.broadcast, author=room.vic),
        actor=room.vic,
    )
    names = {"VIC": room.vic.pk, "MO": room.people["moderator"].pk, "REMOVED": removed.pk}
    message = {k: names.get(v, v) if isinstance(v, str) else v for k, v in message.items()}
    ws = await connect_as(room, room.people["broadcaster"])
    await ws.send(message)
    assert (await next_of(ws, "error"))["data"]["code"] == code
    await ws.send({"type": "ping"})
    await next_of(ws, "pong")
    await ws.close()
    assert not await run(BroadcastBan.objects.filter(user=room.vic).exists)()


async def test_a_held_comment_is_told_to_its_sender_alone(room):
    await run(services.moderation_settings_update)(
        broadcast=room.broadcast,
        actor=room.people["broadcaster"],
        slow_mode_seconds=0,
        blocked_words="",
        allow_links=True,
        hold_words="giveaway",
    )
    other = await connect_as(room, room.people["viewer"])
    vic = await connect_as(room, room.vic)
    await vic.send({"type": "comment", "text": "Free giveaway!", "ref": "c1"})
    held = await next_of(vic, "comment.held")
    assert held["id"] is None
    assert (held["data"]["text"], held["data"]["ref"]) == ("Free giveaway!", "c1")
    assert held["data"]["author"]["id"] == room.vic.pk
    assert "comment.held" not in {e["type"] for e in await other.collect(0.3)}

    await vic.send({"type": "comment", "text": "just hello"})  # not held: no notice
    events = await vic.receive_until(lambda got: bool(got) and got[-1]["type"] == "comment.created")
    assert "comment.held" not in {e["type"] for e in events}
    await vic.close()
    await other.close()
