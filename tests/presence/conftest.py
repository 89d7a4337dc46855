"""Presence fixtures: an injected clock and a capture of published events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from presence.tracker import Tracker
from tests.presence.trackers import CountingStore, make_tracker


class FakeClock:
    """A clock tests move by hand, so no test sleeps through a grace period."""

    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Published:
    topic: str
    type: str
    data: dict[str, Any]
    recoverable: bool


class Capture(list[Published]):
    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [event.data for event in self if event.type == event_type]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> Capture:
    """Every event the code publishes, round-tripped through JSON as the wire would."""
    events = Capture()

    def publish(topic: str, event_type: str, data: dict[str, Any], *, recoverable: bool = True):
        events.append(Published(topic, event_type, json.loads(json.dumps(data)), recoverable))

    monkeypatch.setattr("realtime.publish.publish", publish)
    return events


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


@pytest.fixture
async def presence(store: CountingStore) -> AsyncIterator[Tracker]:
    t = make_tracker(store=store)
    yield t
    t.close()
