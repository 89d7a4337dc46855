"""One definition per output shape: the OpenAPI schema (derived from ``livevideo.shapes``), what
the stream sends (``hello``'s broadcast, ``comment.created``'s comment) and docs/protocol.md's
field lists name the same fields; a drift in any one of the three fails here."""

from __future__ import annotations

from typing import Any, get_type_hints

import pytest
from channels.db import database_sync_to_async

from livevideo import services, shapes
from tests.factories import BroadcastFactory, UserFactory
from tests.livevideo.documented import (
    documented_broadcast,
    documented_event,
    fields_of,
    first_braces,
    properties,
    schema_components,
)
from tests.realtime.streamtools import WSClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_realtime")]

# --- the schema and the stream -------------------------------------------------------------


@pytest.fixture
def schema() -> dict[str, Any]:
    return schema_components()


@pytest.fixture
async def streamed() -> dict[str, Any]:
    """``hello``'s broadcast and a ``comment.created``'s data, as a watcher receives them."""
    broadcast = await database_sync_to_async(BroadcastFactory)(live=True)
    viewer = await database_sync_to_async(UserFactory)()
    ws = WSClient(f"/ws/broadcasts/{broadcast.pk}/")
    [hello] = await ws.connect()
    await database_sync_to_async(services.comment_create)(
        broadcast=broadcast, author=viewer, text="hi"
    )
    events = await ws.receive_until(lambda got: "comment.created" in [e["type"] for e in got], 5)
    await ws.close()
    [created] = [e for e in events if e["type"] == "comment.created"]
    return {"broadcast": hello["data"]["broadcast"], "comment": created["data"]}


# --- the three agree -----------------------------------------------------------------------


async def test_the_broadcast_in_hello_the_schema_and_the_docs_agree(schema, streamed):
    sent = streamed["broadcast"]
    documented = documented_broadcast()

    assert set(sent) == properties(schema, "Broadcast") == set(documented)
    assert set(sent["broadcaster"]) == properties(schema, "User")
    assert set(sent["broadcaster"]) == set(fields_of(first_braces(documented["broadcaster"])))
    assert set(sent["chat_rules"]) == properties(schema, "ChatRules")
    assert set(sent["chat_rules"]) == set(fields_of(first_braces(documented["chat_rules"])))
    assert set(sent["chat_rules"]) == set(documented_event("chat.rules"))
    assert set(sent["reactions"]) == properties(schema, "ReactionTotals")
    assert set(sent["reactions"]) == set(fields_of(first_braces(documented["reactions"])))


async def test_the_comment_in_comment_created_the_schema_and_the_docs_agree(schema, streamed):
    sent = streamed["comment"]
    documented = documented_event("comment.created")

    assert set(sent) == properties(schema, "Comment") == set(documented)
    assert set(sent["author"]) == properties(schema, "User") == set(fields_of(documented["author"]))


def test_the_broadcast_shape_holds_its_events_shapes():
    """``broadcast.status`` and ``broadcast.video`` carry fields of the broadcast: the same
    names with the same types."""
    broadcast = get_type_hints(shapes.BroadcastData, include_extras=True)
    for event_type, part in (
        ("broadcast.status", shapes.Status),
        ("broadcast.video", shapes.Video),
    ):
        hints = get_type_hints(part, include_extras=True)
        assert {name: broadcast[name] for name in hints} == hints
        assert set(documented_event(event_type)) == set(hints)


def test_the_docs_parser_reads_nested_fields():
    assert fields_of("{id, author: {id, name}, tags: [tag]}") == {
        "id": "",
        "author": "{id, name}",
        "tags": "[tag]",
    }
