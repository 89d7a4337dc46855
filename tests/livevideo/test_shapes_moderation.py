"""One definition per output shape, for moderation: each moderation answer of the REST API and
each moderation event of the stream names the fields its shape in ``livevideo.shapes`` (and the
OpenAPI schema derived from it) and docs/moderation.md or docs/protocol.md name."""

from __future__ import annotations

from typing import Any, get_type_hints

import pytest
from channels.db import database_sync_to_async
from rest_framework.test import APIClient

from livevideo import services, shapes
from livevideo.api.schema import component_name
from livevideo.models import Broadcast, Comment
from tests.factories import BroadcastFactory, UserFactory
from tests.livevideo.documented import (
    documented_answer,
    documented_event,
    properties,
    schema_components,
)
from tests.livevideo.streams import token_of, watch

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_realtime")]

run = database_sync_to_async


def keys(shape: type) -> set[str]:
    return set(get_type_hints(shape))


@pytest.fixture
def schema() -> dict[str, Any]:
    return schema_components()


@pytest.fixture
def room() -> dict[str, Any]:
    """A live broadcast with a moderator, a standing moderator, a timed-out viewer whose
    comment another viewer reported, and its broadcaster's REST client."""
    bea = UserFactory(username="bea")
    services.broadcaster_grant(user=bea)
    broadcast = BroadcastFactory(broadcaster=bea, live=True)
    services.moderator_appoint(broadcast=broadcast, actor=bea, user=UserFactory())
    services.standing_moderator_add(broadcaster=bea, user=UserFactory())
    vic = UserFactory(username="vic")
    comment = services.comment_create(broadcast=broadcast, author=vic, text="hi")
    services.comment_report(comment=comment, reporter=UserFactory())
    services.user_timeout(broadcast=broadcast, actor=bea, user=vic, seconds=60, reason="calm")
    client = APIClient()
    client.force_authenticate(bea)
    return {"broadcast": broadcast, "vic": vic, "comment": comment, "client": client}


def answers(room: dict[str, Any]) -> dict[str, Any]:
    """What each moderation endpoint answers the broadcaster (one item of each list)."""
    client, broadcast = room["client"], room["broadcast"]
    base = f"/api/broadcasts/{broadcast.pk}"

    def get(path: str) -> Any:
        response = client.get(path)
        assert response.status_code == 200, response.content
        return response.json()

    pinned = client.put(f"{base}/pinned/", {"comment_id": room["comment"].pk}, format="json")
    return {
        "Moderator": get(f"{base}/moderators/")[0],
        "StandingModerator": get("/api/moderators/")[0],
        "UserCard": get(f"{base}/users/{room['vic'].pk}/"),
        "Watching": get(f"{base}/watching/"),
        "ReviewItem": get(f"{base}/review/")[0],
        "ModerationSettings": get(f"{base}/moderation/"),
        "Ban": get(f"{base}/bans/")[0],
        "AuditEntry": get(f"{base}/moderation/log/")["results"][0],
        "Pinned": pinned.json(),
    }


def test_the_moderation_answers_the_schema_and_the_docs_agree(schema, room):
    sent = answers(room)
    documented = {
        "Moderator": documented_answer("GET/POST /api/broadcasts/<id>/moderators/", "each"),
        "StandingModerator": documented_answer("GET/POST /api/moderators/", "each"),
        "UserCard": documented_answer("GET /api/broadcasts/<id>/users/"),
        "Watching": documented_answer("GET /api/broadcasts/<id>/watching/"),
        "ReviewItem": documented_answer("GET /api/broadcasts/<id>/review/"),
        "ModerationSettings": documented_answer("GET/PUT /api/broadcasts/<id>/moderation/"),
        "Ban": documented_answer("GET/POST /api/broadcasts/<id>/bans/", "each ban"),
        "AuditEntry": documented_answer("GET /api/broadcasts/<id>/moderation/log/"),
        "Pinned": documented_answer("PUT/DELETE /api/broadcasts/<id>/pinned/", "answered"),
    }
    for component, answer in sent.items():
        shape = getattr(shapes, component, None) or getattr(shapes, f"{component}Data")
        assert component_name(shape) == component
        assert set(answer) == properties(schema, component) == set(documented[component])
        assert set(answer) == keys(shape)


def test_the_user_cards_nested_shapes_agree(schema, room):
    card = answers(room)["UserCard"]
    barred = documented_answer("GET /api/broadcasts/<id>/users/", "`barred` null or")

    assert set(card["barred"]) == properties(schema, "Barred") == set(barred)
    assert set(card["comments"][0]) == properties(schema, "CardComment")
    assert set(card["comments"][0]) == properties(schema, "Comment") | {"removed"}
    assert set(card["user"]) == properties(schema, "User")


async def test_the_moderation_events_and_hello_you_agree_with_the_docs(room):
    broadcast: Broadcast = room["broadcast"]
    comment: Comment = room["comment"]
    ws = watch(broadcast, headers=await run(token_of)(room["vic"]))
    [hello, *_] = await ws.connect()
    you = hello["data"]["you"]
    assert set(you) == keys(shapes.ViewerState) == set(documented_event("hello", "`you`"))
    assert set(you["barred"]) == keys(shapes.Barred)

    await run(services.comment_pin)(comment=comment, actor=broadcast.broadcaster)
    await run(services.user_unban)(
        broadcast=broadcast, actor=broadcast.broadcaster, user=room["vic"]
    )
    await run(services.user_timeout)(
        broadcast=broadcast, actor=broadcast.broadcaster, user=room["vic"], seconds=60
    )
    await run(services.comment_report)(comment=comment, reporter=await run(UserFactory)())
    wanted = {"comment.pinned", "viewer.state", "review.queue"}
    events = await ws.receive_until(lambda got: wanted <= {e["type"] for e in got}, 5)
    await ws.close()
    data = {e["type"]: e["data"] for e in events}  # the last of each type

    assert (
        set(data["comment.pinned"])
        == keys(shapes.Pinned)
        == set(documented_event("comment.pinned"))
    )
    assert set(data["viewer.state"]) == keys(shapes.ViewerBarred)
    assert set(data["viewer.state"]) == set(documented_event("viewer.state"))
    barred = documented_event("viewer.state", "`barred` =")
    assert set(data["viewer.state"]["barred"]) == keys(shapes.BarredUntil) == set(barred)
    assert set(data["review.queue"]) == keys(shapes.ReviewQueueSize)
    assert set(data["review.queue"]) == set(documented_event("review.queue"))
