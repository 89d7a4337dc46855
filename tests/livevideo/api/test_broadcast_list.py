"""GET /api/broadcasts/"""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.factories import BroadcastFactory, CommentFactory
from tests.livevideo.api.asserts import assert_error

URL = "/api/broadcasts/"


def test_anyone_sees_broadcasts_newest_first(anonymous: APIClient, scheduled, live, ended) -> None:
    body = anonymous.get(URL).json()

    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    assert [b["id"] for b in body["results"]] == [ended.pk, live.pk, scheduled.pk]


def test_items_have_the_detail_shape(anonymous: APIClient, live) -> None:
    CommentFactory(broadcast=live)

    [item] = anonymous.get(URL).json()["results"]

    assert item == anonymous.get(f"{URL}{live.pk}/").json()
    assert item["comments_count"] == 1


def test_status_filters(anonymous: APIClient, scheduled, live, ended) -> None:
    for status, broadcast in [("scheduled", scheduled), ("live", live), ("ended", ended)]:
        results = anonymous.get(URL, {"status": status}).json()["results"]
        assert [b["id"] for b in results] == [broadcast.pk]
        assert results[0]["status"] == status


def test_unknown_status_is_400_with_a_reason(anonymous: APIClient) -> None:
    assert_error(anonymous.get(URL, {"status": "paused"}), 400, "status")


def test_pages_of_twenty(anonymous: APIClient, owner) -> None:
    BroadcastFactory.create_batch(25, broadcaster=owner)

    first = anonymous.get(URL).json()
    second = anonymous.get(first["next"]).json()

    assert (first["count"], len(first["results"]), first["previous"]) == (25, 20, None)
    assert (len(second["results"]), second["next"]) == (5, None)
    assert not {b["id"] for b in first["results"]} & {b["id"] for b in second["results"]}


def test_a_page_past_the_end_is_json_404(anonymous: APIClient) -> None:
    assert_error(anonymous.get(URL, {"page": 9}), 404)


def test_query_count_does_not_grow_with_the_page(anonymous: APIClient, owner) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert anonymous.get(URL).status_code == 200
        return len(ctx.captured_queries)

    BroadcastFactory.create_batch(2, broadcaster=owner, live=True)
    few = queries()
    for broadcast in BroadcastFactory.create_batch(10, live=True):
        CommentFactory(broadcast=broadcast)

    assert queries() == few
