"""Taking part over a broadcast's WebSocket: who may react and comment, the limits and
refusals they meet, and what each viewer is told of their own state (time-outs, bans, chat
rules)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from livevideo import selectors, services
from livevideo.models import Broadcast, Comment
from tests.factories import BroadcastFactory, UserFactory
from tests.livevideo.streams import next_of, session_of, token_of, watch

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_realtime")]

run = database_sync_to_async


@pytest.fixture
def broadcast(owner) -> Broadcast:
    return BroadcastFactory(broadcaster=owner, live=True)


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


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        ("ADDRESS_REACTION", {"type": "reaction", "kind": "like"}),
        ("ADDRESS_COMMENT", {"type": "comment", "text": "hi"}),
    ],
)
async def test_reactions_and_comments_over_the_socket_count_against_the_client_address(
    broadcast, viewer, settings, limit, message
):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, limit: (1, 60.0)}
    other = await run(UserFactory)()
    first = watch(broadcast, headers=await run(token_of)(viewer))
    second = watch(broadcast, headers=await run(token_of)(other))
    for ws in (first, second):
        ws.communicator.scope["client"] = ("203.0.113.7", 40000)  # one network, two accounts
    await first.connect()
    await second.connect()
    await first.send(message)
    await second.send(message)
    refused = await next_of(second, "error")
    assert refused["data"]["code"] == "rate_limited"
    assert "network" in refused["data"]["message"]
    assert await run(Comment.objects.filter(broadcast=broadcast).count)() == (
        1 if message["type"] == "comment" else 0
    )
    await first.close()
    await second.close()


async def test_refusals_carry_the_service_code(broadcast, owner, viewer):
    ws = watch(broadcast, headers=await run(token_of)(viewer))
    await ws.connect()
    for n in range(6):  # five comments per ten seconds
        await ws.send({"type": "comment", "text": f"c{n}"})
    limited = await next_of(ws, "error")
    assert limited["data"]["code"] == "rate_limited"
    assert limited["data"]["retry_after"] >= 1

    await run(services.broadcast_end)(broadcast=broadcast, actor=owner)
    await ws.send({"type": "reaction", "kind": "like"})
    assert (await next_of(ws, "error"))["data"]["code"] == "conflict"
    await ws.close()


async def test_hello_tells_each_viewer_their_own_state(broadcast, owner, viewer):
    await run(services.user_timeout)(
        broadcast=broadcast, actor=owner, user=viewer, seconds=600, reason="calm down"
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
    broadcaster = watch(broadcast, headers=await run(token_of)(owner))
    [hello] = await broadcaster.connect()
    assert hello["data"]["you"] == {"role": "broadcaster", "barred": None}
    for ws in (anonymous, timed_out, broadcaster):
        await ws.close()


async def test_bans_and_chat_rules_are_announced_live(broadcast, owner, viewer):
    ws = watch(broadcast, headers=await run(token_of)(viewer))
    await ws.connect()

    await run(services.user_ban)(broadcast=broadcast, actor=owner, user=viewer)
    banned = await next_of(ws, "viewer.state")
    assert banned["data"] == {"user_id": viewer.pk, "barred": {"until": None}}

    await run(services.user_unban)(broadcast=broadcast, actor=owner, user=viewer)
    back = await next_of(ws, "viewer.state")
    assert back["data"] == {"user_id": viewer.pk, "barred": None}

    await run(services.moderation_settings_update)(
        broadcast=broadcast,
        actor=owner,
        slow_mode_seconds=30,
        blocked_words="spoiler",
        allow_links=True,
    )
    rules = await next_of(ws, "chat.rules")
    assert rules["data"] == {"slow_mode_seconds": 30, "links_allowed": True, "blocked_words": True}
    await ws.close()
