"""What the docs say each output shape holds, read from their tables, for the tests that check
that the OpenAPI schema, what REST and the stream send and the docs agree (``test_shapes*``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.test import Client

DOCS = Path(__file__).resolve().parents[2] / "docs"
PROTOCOL = DOCS / "protocol.md"
MODERATION = DOCS / "moderation.md"
DEPTH = {"{": 1, "[": 1, "}": -1, "]": -1}


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


def cells(row: str) -> list[str]:
    """A markdown table row's cells (``\\|`` inside a cell is not a border)."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]]


def documented_event(event_type: str, after: str = "") -> dict[str, str]:
    """The fields of an event's ``data`` as protocol.md's events table lists them (those of
    the first ``{...}`` after ``after``, when given: a nested object the row describes)."""
    return _documented(PROTOCOL, f"| `{event_type}` |", 2, after)


def documented_broadcast() -> dict[str, str]:
    """The broadcast's fields as its table lists them (the second cell, for nested ones)."""
    section = PROTOCOL.read_text().split("## The broadcast, as REST and `hello` show it")[1]
    rows = re.findall(r"^\| (`[^|]+) \| (.*) \|$", section.split("\n## ")[0], re.M)
    return {name: what for names, what in rows for name in re.findall(r"`([a-z_]+)`", names)}


def documented_answer(endpoint: str, after: str = "") -> dict[str, str]:
    """The fields of an endpoint's answer as moderation.md's table lists them (after
    ``after``, as for ``documented_event``)."""
    return _documented(MODERATION, f"| `{endpoint}", 1, after)


def _documented(doc: Path, row_start: str, cell: int, after: str) -> dict[str, str]:
    """The fields of the first ``{...}`` after ``after`` in a cell of the table row of ``doc``
    that starts with ``row_start``."""
    [row] = [line for line in doc.read_text().splitlines() if line.startswith(row_start)]
    what = cells(row)[cell]
    return fields_of(first_braces(what[what.index(after) :]))


def schema_components() -> dict[str, Any]:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    return response.json()["components"]["schemas"]


def properties(schema: dict[str, Any], component: str) -> set[str]:
    return set(schema[component]["properties"])
