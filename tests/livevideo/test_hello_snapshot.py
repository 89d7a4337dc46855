"""What an event announced on a broadcast's topic does to the hello's shared read of it
(``livevideo.consumers._amended_detail``): snapshots the hello can take in change it, anything
else takes a new read."""

from __future__ import annotations

from typing import Any

import pytest

from livevideo.consumers import _amended_detail
from realtime.protocol import make_event

DETAIL: dict[str, Any] = {"id": 1, "title": "t", "reactions": {"totals": {"like": 2}, "total": 2}}


def totals(like: int) -> dict[str, Any]:
    return {"totals": {"like": like}, "total": like}


def test_newer_totals_replace_the_older():
    amended = _amended_detail(DETAIL, make_event("reactions", totals(5)))
    assert amended == {**DETAIL, "reactions": totals(5)}
    assert DETAIL["reactions"] == totals(2)  # the shared read itself is not changed


def test_totals_read_before_the_kept_ones_leave_them():
    assert _amended_detail(DETAIL, make_event("reactions", totals(1))) is DETAIL


@pytest.mark.parametrize("event_type", ["viewers", "presence"])
def test_the_count_and_who_came_and_went_are_not_in_it(event_type):
    assert _amended_detail(DETAIL, make_event(event_type, {"count": 9})) is DETAIL


@pytest.mark.parametrize(
    "event",
    [
        make_event("comment.created", {"id": 3}, event_id=3),
        make_event("broadcast.status", {"status": "ended"}, event_id=4),
        make_event("reactions", {"total": "many"}),
    ],
)
def test_anything_else_takes_a_new_read(event):
    assert _amended_detail(DETAIL, event) is None


def test_a_broadcast_that_was_not_there_is_read_again():
    assert _amended_detail(None, make_event("viewers", {"count": 1})) is None
