"""GET /api/broadcasts/<id>/timeline/"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from livevideo.models import Broadcast, Comment, Reaction
from livevideo.video import timeline
from tests.factories import BroadcastFactory, CommentFactory, UserFactory
from tests.livevideo.api.asserts import assert_error


@pytest.fixture
def replayed(owner) -> Broadcast:
    """An ended broadcast whose video started at ``video_started_at``, with comments at 1.5 s,
    4 s (removed) and 70 s, and reactions in its 2nd and 3rd seconds."""
    origin = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    broadcast = BroadcastFactory(
        broadcaster=owner, ended=True, started_at=origin - timedelta(seconds=30)
    )
    Broadcast.objects.filter(pk=broadcast.pk).update(video_started_at=origin)
    broadcast.refresh_from_db()
    for seconds, removed in [(1.5, False), (4, True), (70, False)]:
        comment = CommentFactory(broadcast=broadcast, is_removed=removed)
        Comment.objects.filter(pk=comment.pk).update(created_at=origin + timedelta(seconds=seconds))
    fan = UserFactory(username="fan")
    for seconds, kind in [(1.2, "like"), (1.7, "like"), (1.9, "love"), (2.1, "like")]:
        reaction = Reaction.objects.create(broadcast=broadcast, user=fan, kind=kind)
        Reaction.objects.filter(pk=reaction.pk).update(
            created_at=origin + timedelta(seconds=seconds)
        )
    return broadcast


def test_comments_and_reactions_at_their_broadcast_time(anonymous: APIClient, replayed) -> None:
    body = anonymous.get(f"/api/broadcasts/{replayed.pk}/timeline/").json()

    assert body["origin"] == replayed.video_started_at.isoformat().replace("+00:00", "Z")
    assert [c["offset_ms"] for c in body["comments"]] == [1500, 70000]
    assert body["comments"][0]["comment"]["text"]
    assert body["reactions"] == [
        {"offset_ms": 1000, "counts": {"like": 2, "love": 1}},
        {"offset_ms": 2000, "counts": {"like": 1}},
    ]
    assert body["next_from_ms"] is None


def test_a_range_gives_only_what_is_in_it(anonymous: APIClient, replayed) -> None:
    body = anonymous.get(f"/api/broadcasts/{replayed.pk}/timeline/?from_ms=2000&to_ms=80000")

    assert [c["offset_ms"] for c in body.json()["comments"]] == [70000]
    assert body.json()["reactions"] == [{"offset_ms": 2000, "counts": {"like": 1}}]


def test_a_long_answer_is_cut_with_where_to_go_on(
    anonymous: APIClient, replayed, monkeypatch
) -> None:
    monkeypatch.setattr(timeline, "MAX_COMMENTS", 1)

    first = anonymous.get(f"/api/broadcasts/{replayed.pk}/timeline/").json()
    rest = anonymous.get(
        f"/api/broadcasts/{replayed.pk}/timeline/?from_ms={first['next_from_ms']}"
    ).json()

    assert [c["offset_ms"] for c in first["comments"]] == [1500]
    assert first["next_from_ms"] == 70000
    assert [c["offset_ms"] for c in rest["comments"]] == [70000]


def test_a_broadcast_never_live_has_an_empty_timeline(anonymous: APIClient, scheduled) -> None:
    body = anonymous.get(f"/api/broadcasts/{scheduled.pk}/timeline/").json()

    assert body["origin"] is None
    assert body["comments"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from_ms=-1", "from_ms"),
        ("from_ms=abc", "from_ms"),
        ("from_ms=10&to_ms=5", "to_ms"),
        ("from_ms=0&to_ms=99999999999", "to_ms"),
        ("to_ms=1e99", "to_ms"),
        ("from_ms=99999999999999999999", "from_ms"),
    ],
)
def test_bad_ranges_are_400(anonymous: APIClient, replayed, query: str, field: str) -> None:
    assert_error(anonymous.get(f"/api/broadcasts/{replayed.pk}/timeline/?{query}"), 400, field)


def test_an_unknown_broadcast_is_404(anonymous: APIClient, db) -> None:
    assert_error(anonymous.get("/api/broadcasts/424242/timeline/"), 404)
