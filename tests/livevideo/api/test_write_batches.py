"""REST writes stored in batches (``livevideo.api.writes``): concurrent posts are each stored
once and answered with their own outcome, bans and revoked tokens hold from the next batch,
the rate limits hold under concurrency, and a failed batch fails only its own requests."""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError
from rest_framework.authtoken.models import Token

from livevideo import selectors, services
from livevideo.models import Broadcast, Comment, Reaction
from tests.factories import BroadcastFactory, UserFactory
from tests.livevideo.api.writepath import post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_realtime")]

run = database_sync_to_async


@pytest.fixture
def live() -> Broadcast:
    return BroadcastFactory(live=True)


@pytest.fixture
def tokens() -> list[Token]:
    return [Token.objects.create(user=UserFactory()) for _ in range(10)]


def reactions(broadcast: Broadcast) -> str:
    return f"/api/broadcasts/{broadcast.pk}/reactions/"


def comments(broadcast: Broadcast) -> str:
    return f"/api/broadcasts/{broadcast.pk}/comments/"


async def test_concurrent_reactions_are_all_stored_once(live, tokens):
    answers = await asyncio.gather(
        *(post(reactions(live), {"kind": "love"}, token=t) for t in tokens * 5)
    )
    assert [a.status for a in answers] == [202] * 50
    totals = await run(selectors.reaction_totals)(broadcast_id=live.pk)
    assert (totals["totals"]["love"], totals["total"]) == (50, 50)
    assert await run(Reaction.objects.filter(broadcast=live).count)() == 50


async def test_concurrent_comments_are_each_answered_with_their_own_row(live, tokens):
    answers = await asyncio.gather(
        *(post(comments(live), {"text": f"hello {i}"}, token=t) for i, t in enumerate(tokens))
    )
    assert [a.status for a in answers] == [201] * 10
    stored = await run(lambda: {c.pk: (c.text, c.author_id) for c in Comment.objects.all()})()
    assert {a.json()["id"]: (a.json()["text"], a.json()["author"]["id"]) for a in answers} == stored
    assert [a.json()["text"] for a in answers] == [f"hello {i}" for i in range(10)]


async def test_a_held_comment_among_others_is_answered_202(live, tokens):
    live.hold_words = "spoiler"
    await run(live.save)()
    held, shown = await asyncio.gather(
        post(comments(live), {"text": "big spoiler"}, token=tokens[0]),
        post(comments(live), {"text": "nice"}, token=tokens[1]),
    )
    assert (held.status, held.json()["held"], shown.status) == (202, True, 201)


async def test_a_ban_and_a_revoked_token_hold_from_the_next_post(live, tokens):
    assert (await post(reactions(live), {"kind": "like"}, token=tokens[0])).status == 202
    await run(services.user_ban)(broadcast=live, actor=live.broadcaster, user=tokens[0].user)
    await run(tokens[1].delete)()
    banned, revoked, other = await asyncio.gather(
        post(reactions(live), {"kind": "like"}, token=tokens[0]),
        post(reactions(live), {"kind": "like"}, token=tokens[1]),
        post(reactions(live), {"kind": "like"}, token=tokens[2]),
    )
    assert (banned.status, revoked.status, other.status) == (403, 401, 202)
    assert revoked.json() == {"detail": "Invalid token."}


async def test_the_per_user_limit_holds_under_concurrency(live, tokens, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "REACTION": (5, 60.0)}
    answers = await asyncio.gather(
        *(post(reactions(live), {"kind": "like"}, token=tokens[0]) for _ in range(20))
    )
    assert sorted(a.status for a in answers) == [202] * 5 + [429] * 15
    assert all(int(a.headers["retry-after"]) > 0 for a in answers if a.status == 429)
    assert await run(Reaction.objects.count)() == 5


async def test_the_per_address_limit_holds_under_concurrency(live, tokens, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "ADDRESS_COMMENT": (3, 60.0)}
    answers = await asyncio.gather(
        *(post(comments(live), {"text": "hi"}, token=t, client="198.51.100.7") for t in tokens),
        post(comments(live), {"text": "hello"}, token=tokens[0], client="198.51.100.8"),
    )
    assert sorted(a.status for a in answers[:-1]) == [201] * 3 + [429] * 7
    assert answers[-1].status == 201  # another address
    assert await run(Comment.objects.count)() == 4


async def test_a_failed_batch_fails_its_requests_with_503_and_the_next_is_stored(
    live, tokens, monkeypatch
):
    record = services.reactions_record
    calls = []

    def failing_once(**kwargs):
        calls.append(len(kwargs["taps"]))
        if len(calls) == 1:
            raise OperationalError("the database went away")
        return record(**kwargs)

    # Where the batch's store looks it up (``services.reactions_create_batch``).
    monkeypatch.setattr(services.reactions, "reactions_record", failing_once)
    answers = await asyncio.gather(
        *(post(reactions(live), {"kind": "like"}, token=t) for t in tokens[:6])
    )
    later = await post(reactions(live), {"kind": "like"}, token=tokens[6])
    statuses = [a.status for a in answers]
    assert 503 in statuses
    assert set(statuses) <= {202, 503}
    assert later.status == 202
    refused = [a for a in answers if a.status == 503]
    assert all(a.headers["retry-after"] == "5" for a in refused)
    assert all("unavailable" in a.json()["detail"] for a in refused)
    assert await run(Reaction.objects.count)() == statuses.count(202) + 1


async def test_a_post_right_after_a_batch_waits_for_the_configured_gap(live, tokens, settings):
    settings.REST_WRITE_BATCH_GAP = 0.5  # read once, again after a change
    assert (await post(reactions(live), {"kind": "like"}, token=tokens[0])).status == 202
    started = time.monotonic()
    assert (await post(reactions(live), {"kind": "like"}, token=tokens[1])).status == 202
    assert time.monotonic() - started >= 0.3  # its batch started 0.5 s after the first's
    settings.REST_WRITE_BATCH_GAP = 0.0
    await asyncio.sleep(0.5)  # the idle batcher is dropped, the next made with the new gap
    assert (await post(reactions(live), {"kind": "like"}, token=tokens[0])).status == 202
    started = time.monotonic()
    assert (await post(reactions(live), {"kind": "like"}, token=tokens[1])).status == 202
    assert time.monotonic() - started < 0.3
