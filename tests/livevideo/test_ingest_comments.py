"""WebSocket comments stored in batches (``livevideo.ingest.record_comments``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext

from livevideo import ingest, services, write_selectors
from livevideo.errors import NotAllowed, RateLimited
from livevideo.models import Broadcast, Comment
from realtime.testing import capture_events
from tests.factories import BroadcastFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = "203.0.113.7"


@pytest.fixture
def broadcasts() -> list[Broadcast]:
    return [BroadcastFactory(live=True) for _ in range(6)]


@pytest.fixture
def viewers() -> list[Any]:
    return [UserFactory(username=f"commenter{i}") for i in range(6)]


def moderate(broadcast: Broadcast, **changes: Any) -> None:
    """Set the broadcast's chat settings: none of its rules but ``changes``."""
    rules = {"slow_mode_seconds": 0, "blocked_words": "", "allow_links": True, **changes}
    services.moderation_settings_update(broadcast=broadcast, actor=broadcast.broadcaster, **rules)


def kinds(outcomes: list[Any]) -> list[str]:
    return [type(outcome).__name__ for outcome in outcomes]


def test_comments_on_many_broadcasts_are_stored_in_one_transaction(broadcasts, viewers):
    posts = [(b.pk, viewers[i], f"hello {i}", ADDRESS) for i, b in enumerate(broadcasts)]
    with capture_events() as events, CaptureQueriesContext(connection) as queries:
        outcomes = ingest.record_comments(ingest.EVERY_BROADCAST, posts)
    assert [o.is_held for o in outcomes] == [False] * 6  # shown to everyone
    for i, broadcast in enumerate(broadcasts):
        assert list(broadcast.comments.values_list("text", flat=True)) == [f"hello {i}"]
    created = [e for e in events if e.type == "comment.created"]
    assert sorted(e.data["text"] for e in created) == [f"hello {i}" for i in range(6)]
    assert len([q for q in queries if q["sql"].startswith("INSERT")]) == 1
    assert len([q for q in queries if q["sql"] == "COMMIT"]) == 1  # one transaction


def queries_for(posts: list[Any]) -> int:
    with CaptureQueriesContext(connection) as queries:
        outcomes = ingest.record_comments(ingest.EVERY_BROADCAST, posts)
    assert kinds(outcomes) == ["Comment"] * len(posts)
    return len(queries)


def test_a_batch_costs_the_same_queries_whatever_its_broadcasts(broadcasts, viewers):
    moderate(broadcasts[2], slow_mode_seconds=5, blocked_words="scam")
    services.user_ban(broadcast=broadcasts[3], actor=broadcasts[3].broadcaster, user=viewers[5])
    on_one = [(broadcasts[0].pk, viewers[i], "on one", "") for i in range(6)]
    on_six = [(b.pk, viewers[i], "on six", "") for i, b in enumerate(broadcasts)]
    assert queries_for(on_six) == queries_for(on_one)


def test_a_refused_comment_fails_alone(broadcasts, viewers):
    live, banned_on, ended = broadcasts[0], broadcasts[1], BroadcastFactory(ended=True)
    services.user_ban(broadcast=banned_on, actor=banned_on.broadcaster, user=viewers[1])
    moderate(live, blocked_words="scam")
    gone = BroadcastFactory(live=True)
    gone_id = gone.pk
    gone.delete()
    posts = [
        (live.pk, viewers[0], "fine", ""),
        (banned_on.pk, viewers[1], "let me in", ""),
        (live.pk, viewers[2], "a scam", ""),
        (live.pk, AnonymousUser(), "who am I", ""),
        (ended.pk, viewers[3], "too late", ""),
        (gone_id, viewers[4], "nowhere", ""),
        (live.pk, viewers[5], "", ""),
        (banned_on.pk, viewers[0], "also fine", ""),
    ]
    outcomes = ingest.record_comments(ingest.EVERY_BROADCAST, posts)
    assert kinds(outcomes) == [
        "Comment",
        "NotAllowed",
        "InvalidInput",
        "NotAllowed",
        "WrongStatus",
        "BroadcastGone",
        "InvalidInput",
        "Comment",
    ]
    assert "banned" in outcomes[1].message
    assert "blocked word" in outcomes[2].message
    assert Comment.objects.count() == 2


def test_a_text_repeated_in_the_batch_or_lately_is_refused(broadcasts, viewers):
    first, other = broadcasts[0], broadcasts[1]
    services.comment_create(broadcast=first, author=viewers[0], text="Again")
    posts = [
        (first.pk, viewers[0], "again", ""),  # posted lately, case aside
        (first.pk, viewers[1], "twice", ""),
        (first.pk, viewers[1], "TWICE", ""),  # earlier in this batch
        (other.pk, viewers[1], "twice", ""),  # another broadcast: not a repeat
    ]
    outcomes = ingest.record_comments(ingest.EVERY_BROADCAST, posts)
    assert kinds(outcomes) == ["InvalidInput", "Comment", "InvalidInput", "Comment"]
    assert outcomes[0].message == "You have just posted the same comment."


def test_each_comment_counts_against_its_users_and_its_addresses_limits(
    broadcasts, viewers, settings
):
    settings.RATE_LIMITS = {
        **settings.RATE_LIMITS,
        "COMMENT": (2, 60.0),
        "ADDRESS_COMMENT": (4, 60.0),
    }
    live = broadcasts[0]
    posts = [(live.pk, viewers[0], f"mine {i}", "198.51.100.2") for i in range(3)]
    posts += [(live.pk, viewers[1 + i], f"ours {i}", ADDRESS) for i in range(5)]
    outcomes = ingest.record_comments(ingest.EVERY_BROADCAST, posts)
    assert kinds(outcomes) == ["Comment"] * 2 + ["RateLimited"] + ["Comment"] * 4 + ["RateLimited"]
    assert "Too many comments" in outcomes[2].message
    assert "from your network" in outcomes[7].message
    assert all(0 < o.retry_after <= 60 for o in outcomes if isinstance(o, RateLimited))


def test_slow_mode_holds_per_broadcast(broadcasts, viewers):
    slow = broadcasts[0]
    moderate(slow, slow_mode_seconds=30)
    posts = [(slow.pk, viewers[0], "one", ""), (slow.pk, viewers[0], "two", "")]
    posts.append((broadcasts[1].pk, viewers[0], "elsewhere", ""))
    outcomes = ingest.record_comments(ingest.EVERY_BROADCAST, posts)
    assert kinds(outcomes) == ["Comment", "RateLimited", "Comment"]
    assert "Slow mode" in outcomes[1].message


def test_slow_modes_of_different_lengths_in_one_batch(broadcasts, viewers):
    moderate(broadcasts[0], slow_mode_seconds=30)
    moderate(broadcasts[1], slow_mode_seconds=120)
    posts = [
        (b.pk, viewers[0], f"{turn} on {i}", "")
        for turn in (1, 2)
        for i, b in enumerate(broadcasts[:3])
    ]
    outcomes = ingest.record_comments(ingest.EVERY_BROADCAST, posts)
    assert kinds(outcomes) == ["Comment"] * 3 + ["RateLimited", "RateLimited", "Comment"]
    assert "one comment every 30 s" in outcomes[3].message
    assert 30 < outcomes[4].retry_after <= 120
    assert "one comment every 120 s" in outcomes[4].message


def test_bans_and_repeats_hold_on_their_own_broadcast_only(broadcasts, viewers):
    """The batch reads bans and recent texts for many broadcasts and authors at once: a ban or
    a text on one broadcast says nothing about another."""
    a, b = broadcasts[0], broadcasts[1]
    services.user_ban(broadcast=a, actor=a.broadcaster, user=viewers[0])
    services.comment_create(broadcast=b, author=viewers[1], text="said on b")
    posts = [
        (a.pk, viewers[0], "banned here", ""),
        (b.pk, viewers[0], "fine there", ""),
        (b.pk, viewers[1], "said on b", ""),
        (a.pk, viewers[1], "said on b", ""),
        (b.pk, viewers[2], "said on b", ""),
    ]
    outcomes = ingest.record_comments(ingest.EVERY_BROADCAST, posts)
    assert kinds(outcomes) == ["NotAllowed", "Comment", "InvalidInput", "Comment", "Comment"]


def test_repeats_are_found_across_the_reads_chunks(broadcasts, viewers, monkeypatch):
    monkeypatch.setattr(write_selectors, "PAIRS_PER_STATEMENT", 2)
    for i, broadcast in enumerate(broadcasts):
        services.comment_create(broadcast=broadcast, author=viewers[i], text="first")
    posts = [(b.pk, viewers[i], "FIRST", "") for i, b in enumerate(broadcasts)]
    outcomes = ingest.record_comments(ingest.EVERY_BROADCAST, posts)
    assert kinds(outcomes) == ["InvalidInput"] * 6


def test_a_held_comment_is_announced_to_nobody(broadcasts, viewers):
    live = broadcasts[0]
    moderate(live, hold_words="hmm")
    with capture_events() as events:
        [held, shown] = ingest.record_comments(
            ingest.EVERY_BROADCAST,
            [(live.pk, viewers[0], "hmm, maybe", ""), (live.pk, viewers[1], "sure", "")],
        )
    assert held.is_held
    assert not shown.is_held
    assert [e.data["text"] for e in events if e.type == "comment.created"] == ["sure"]


async def test_comments_sent_together_on_many_broadcasts_are_each_stored_or_refused(
    broadcasts, viewers
):
    sent = [ingest.comment(b.pk, viewers[i], f"hi {i}", "") for i, b in enumerate(broadcasts)]
    outcomes = await asyncio.gather(
        *sent, ingest.comment(broadcasts[0].pk, AnonymousUser(), "anon", ""), return_exceptions=True
    )
    assert [o.text for o in outcomes[:6]] == [f"hi {i}" for i in range(6)]
    assert isinstance(outcomes[6], NotAllowed)
    assert await database_sync_to_async(Comment.objects.count)() == 6
