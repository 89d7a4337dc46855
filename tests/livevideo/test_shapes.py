"""One definition per output shape: the OpenAPI schema (derived from ``livevideo.shapes``), what
the stream sends (``hello``'s broadcast, ``comment.created``'s comment) and docs/protocol.md's
field lists name the same fields; a drift in any one of the three fails here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_type_hints

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from livevideo import services, shapes
from tests.factories import BroadcastFactory, UserFactory
from tests.realtime.streamtools import WSClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_realtime")]

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
DEPTH = {"{": 1, "[": 1, "}": -1, "]": -1}


# --- docs/protocol.md ----------------------------------------------------------------------


def fields_of(braces: str) -> dict[str, str]:
    """``{a, b: {c, d}, e}`` -> ``{"a": "", "b": "{c, d}", "e": ""}`` (the top level only)."""
    assert braces[0] + braces[-1] == "{}", braces
    parts, depth, current = [], 0, ""
    for char in braces[1:-1]:
        depth += DEPTH.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    named = [part.strip().partition(":") for part in parts]
    return {name.strip(): nested.strip() for name, _, nested in named}


def first_braces(text: str) -> str:
    """The first balanced ``{...}`` in ``text``."""
    start, depth = text.index("{"), 0
    for end in range(start, len(text)):
        depth += DEPTH.get(text[end], 0)
        if depth == 0:
            return text[start : end + 1]
    raise AssertionError(f"unbalanced braces in {text!r}")


def documented_event(event_type: str) -> dict[str, str]:
    """The fields of an event's ``data`` as the events table lists them."""
    [row] = re.findall(rf"^\| `{re.escape(event_type)}` \|.*$", PROTOCOL.read_text(), re.M)
    return fields_of(first_braces(row.split("|")[3]))


def documented_broadcast() -> dict[str, str]:
    """The broadcast's fields as its table lists them (the second cell, for nested ones)."""
    section = PROTOCOL.read_text().split("## The broadcast, as REST and `hello` show it")[1]
    rows = re.findall(r"^\| (`[^|]+) \| (.*) \|$", section.split("\n## ")[0], re.M)
    return {name: what for names, what in rows for name in re.findall(r"`([a-z_]+)`", names)}


# --- the schema and the stream -------------------------------------------------------------


@pytest.fixture
def schema() -> dict[str, Any]:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    return response.json()["components"]["schemas"]


def properties(schema: dict[str, Any], component: str) -> set[str]:
    return set(schema[component]["properties"])


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
    broadcast = get_type_hints(shapes.Broadcast, include_extras=True)
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
