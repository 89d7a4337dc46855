"""Helpers for tests that check what a change announces (like Zulip's
``capture_send_event_calls``).

    with capture_events() as events:
        comment_create(broadcast=b, author=u, text="hi")
    assert events == [CapturedEvent("broadcast.1", "comment.created", {...}, True)]

Only what is actually handed over is captured: after commit, never for a rollback. The data
is what a client would decode (it round-trips through JSON). Events still go out as usual.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from realtime import publish


class CapturedEvent(NamedTuple):
    topic: str
    type: str
    data: dict[str, Any]
    recoverable: bool


@contextmanager
def capture_events() -> Iterator[list[CapturedEvent]]:
    captured: list[CapturedEvent] = []

    def observe(item: publish.Outgoing) -> None:
        captured.append(
            CapturedEvent(item.topic, item.type, json.loads(item.data_json), item.recoverable)
        )

    publish.observers.append(observe)
    try:
        yield captured
    finally:
        publish.observers.remove(observe)
