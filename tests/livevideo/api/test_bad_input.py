"""Bad input of any kind on every write endpoint: 4xx with a JSON reason, nothing written."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from livevideo.models import Broadcast, Comment, Reaction

Body = object  # a JSON-able value, or ``Raw`` for bytes sent as they are


class Raw(str):
    """A body sent as-is, with its content type."""

    content_type = "application/json"

    def __new__(cls, text: str, content_type: str = "application/json") -> Raw:
        raw = super().__new__(cls, text)
        raw.content_type = content_type
        return raw


BROADCAST_CASES: list[Body] = [
    {"title": 5},
    {"title": None},
    {"title": ["x"]},
    {"title": {"a": 1}},
    {"title": True},
    {"title": "x" * 100_000},
    {"title": "ok", "description": "x" * 5001},
    {"title": "a\x00b"},
    Raw('{"title": "\\ud800"}'),
    {"title": "ok", "stream_url": "javascript:alert(1)"},
    {"title": "ok", "stream_url": 5},
    {"title": "ok", "scheduled_for": "tomorrow"},
    {"title": "ok", "scheduled_for": 5},
    {"title": "ok", "scheduled_for": "2030-02-30T10:00:00Z"},
    {"title": "ok", "scheduled_for": "9999-12-31T23:59:59-23:00"},
    {},
    [],
    ["title"],
    "title",
    Raw("{not json"),
    Raw('{"title": NaN}'),
    Raw("title=hi", content_type="text/plain"),
]
COMMENT_CASES: list[Body] = [
    {"text": ["x"]},
    {"text": 5},
    {"text": None},
    {"text": "x" * 100_000},
    {"text": "\x00"},
    Raw('{"text": "\\udfff"}'),
    {},
    [],
    Raw("[1,"),
]
REACTION_CASES: list[Body] = [
    {"kind": None},
    {"kind": 5},
    {"kind": ["like"]},
    {"kind": "like\x00"},
    {"kind": "x" * 100_000},
    {},
    [],
    Raw("kind=like", content_type="text/plain"),
]
CASES = (
    [("broadcasts", body) for body in BROADCAST_CASES]
    + [("comments", body) for body in COMMENT_CASES]
    + [("reactions", body) for body in REACTION_CASES]
)


def _rows() -> tuple[int, int, int]:
    return Broadcast.objects.count(), Comment.objects.count(), Reaction.objects.count()


def _post(client: APIClient, url: str, body: Body):
    if isinstance(body, Raw):
        return client.generic("POST", url, str(body).encode(), content_type=body.content_type)
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(("endpoint", "body"), CASES, ids=lambda v: repr(v)[:40])
def test_bad_bodies_are_4xx_with_a_reason_and_write_nothing(
    client_for, viewer, live, endpoint, body
) -> None:
    url = (
        "/api/broadcasts/" if endpoint == "broadcasts" else f"/api/broadcasts/{live.pk}/{endpoint}/"
    )
    before = _rows()

    response = _post(client_for(viewer), url, body)

    assert 400 <= response.status_code < 500, response.content
    assert response["Content-Type"].startswith("application/json")
    reason = response.json()
    assert isinstance(reason, dict)
    assert reason
    assert _rows() == before


@pytest.mark.parametrize("method", ["get", "post", "delete"])
@pytest.mark.parametrize(
    "path",
    [
        "{big}/",
        "{big}/start/",
        "{big}/end/",
        "{big}/comments/",
        "{big}/comments/{big}/",
        "{live}/comments/{big}/",
        "{big}/reactions/",
        "{big}/viewers/",
    ],
)
def test_ids_beyond_bigint_are_4xx_not_500(client_for, staff, live, method, path) -> None:
    url = "/api/broadcasts/" + path.format(big="9" * 20, live=live.pk)

    response = getattr(client_for(staff), method)(url, {"kind": "like", "text": "x"}, format="json")

    assert response.status_code in (404, 405), response.content
    assert response.json()["detail"]
