"""GET /api/broadcasts/<id>/comments/"""

from __future__ import annotations

from rest_framework.test import APIClient

from tests.factories import CommentFactory
from tests.livevideo.api.asserts import assert_error


def url(broadcast) -> str:
    return f"/api/broadcasts/{broadcast.pk}/comments/"


def test_visible_comments_oldest_first_in_the_rest_shape(anonymous: APIClient, live, viewer):
    first = CommentFactory(broadcast=live, author=viewer, text="first")
    CommentFactory(broadcast=live, text="removed", is_removed=True)
    second = CommentFactory(broadcast=live, text="second")
    CommentFactory(text="elsewhere")

    body = anonymous.get(url(live)).json()

    assert set(body) == {"next", "previous", "results"}
    assert [c["id"] for c in body["results"]] == [first.pk, second.pk]
    assert body["results"][0] == {
        "id": first.pk,
        "broadcast": live.pk,
        "author": {"id": viewer.pk, "username": "vera", "display_name": "Vera"},
        "text": "first",
        "created_at": first.created_at.isoformat().replace("+00:00", "Z"),
    }


def test_cursor_pages_walk_every_comment_once(anonymous: APIClient, live) -> None:
    made = [c.pk for c in CommentFactory.create_batch(7, broadcast=live)]

    seen, page = [], anonymous.get(url(live), {"page_size": 3}).json()
    assert page["previous"] is None
    while True:
        seen += [c["id"] for c in page["results"]]
        if not page["next"]:
            break
        page = anonymous.get(page["next"]).json()

    assert seen == made
    assert page["previous"]


def test_a_page_stays_put_when_new_comments_arrive(anonymous: APIClient, live) -> None:
    CommentFactory.create_batch(3, broadcast=live)
    first = anonymous.get(url(live), {"page_size": 2}).json()
    CommentFactory.create_batch(2, broadcast=live)

    second = anonymous.get(first["next"]).json()

    assert len(second["results"]) == 2
    assert second["results"][0]["id"] > first["results"][-1]["id"]


def test_a_bad_cursor_is_json_404(anonymous: APIClient, live) -> None:
    assert_error(anonymous.get(url(live), {"cursor": "garbage"}), 404)


def test_an_unknown_broadcast_is_404(anonymous: APIClient) -> None:
    assert_error(anonymous.get("/api/broadcasts/424242/comments/"), 404)
