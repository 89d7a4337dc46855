"""The event envelope and frames."""

from __future__ import annotations

import json

import pytest

from realtime.protocol import decode_event, frame, last_id, make_event, parse_last_event_id


def test_an_event_is_encoded_once_into_the_envelope():
    event = make_event("comment.created", {"text": "ünïcode"}, event_id=7, ts=1.5)
    assert json.loads(event.encoded) == {
        "type": "comment.created",
        "id": 7,
        "ts": 1.5,
        "data": {"text": "ünïcode"},
    }
    assert "ünïcode" in event.encoded  # UTF-8 as is, not \\u escapes
    assert make_event("viewers", {"count": 1}).id is None
    assert json.loads(make_event("viewers", {"count": 1}).encoded)["id"] is None


def test_a_frame_joins_the_encoded_events_into_an_array():
    a = make_event("a", {}, event_id=1, ts=1.0)
    b = make_event("b", {"x": [1]}, ts=2.0)
    assert frame([a, b]) == "[" + a.encoded + "," + b.encoded + "]"
    assert [e["type"] for e in json.loads(frame([a, b]))] == ["a", "b"]


def test_a_received_event_keeps_its_string():
    text = make_event("a", {"n": 1}, event_id=3).encoded
    event = decode_event(text.encode())
    assert (event.type, event.id, event.data) == ("a", 3, {"n": 1})
    assert event.encoded == text


def test_last_id_is_the_last_non_null_id():
    events = [make_event("a", {}, event_id=1), make_event("b", {}, event_id=2), make_event("c", {})]
    assert last_id(events) == 2
    assert last_id([make_event("c", {})]) is None


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("", None), ("0", 0), ("42", 42)])
def test_last_event_id_parses(value, expected):
    assert parse_last_event_id(value) == expected


@pytest.mark.parametrize("value", ["-1", "1.5", "abc", " 3", "٣", "9" * 19])
def test_a_bad_last_event_id_is_refused(value):
    with pytest.raises(ValueError):
        parse_last_event_id(value)
