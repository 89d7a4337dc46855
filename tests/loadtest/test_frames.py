"""A worker's decoding of frames: each distinct frame once, a first frame's replay shared by its
text, frames still in use kept."""

from __future__ import annotations

import json

import pytest

from loadtest import frames
from loadtest.frames import IGNORED, _check, decode
from tests.loadtest.test_client import comment, hello, new_viewer


def whole(payload: bytes | str) -> list:
    """A frame's checks as decoding it whole gives them."""
    return [_check(event) for event in json.loads(payload) if event["type"] not in IGNORED]


def first_frame(last_id: int, replay: list[dict], viewers: int = 1) -> bytes:
    event = hello(last_id)
    event["data"]["broadcast"]["viewers"] = viewers  # each viewer's hello is its own
    return json.dumps([event, *replay], separators=(",", ":")).encode()


@pytest.mark.usefixtures("fresh_cache")
class TestDecode:
    def test_a_hello_and_its_replay_decode_as_the_whole_frame_does(self):
        replay = [comment(i, 100 + i) for i in (5, 6, 7)]
        replay.append({"type": "keepalive", "id": None, "ts": 1, "data": {}})
        for payload in (first_frame(4, replay), first_frame(4, replay).decode()):
            assert decode(payload) == whole(payload)
        alone = first_frame(7, [])
        assert decode(alone) == whole(alone)

    def test_viewers_resuming_alike_share_the_replay_each_with_its_own_hello(self, monkeypatch):
        replay = [comment(i, 100 + i) for i in (5, 6, 7)]
        loads = []
        checks = frames._checks
        monkeypatch.setattr(frames, "_checks", lambda text: loads.append(text) or checks(text))
        viewers = [new_viewer() for _ in range(3)]
        for count, viewer in enumerate(viewers):
            payload = first_frame(4, replay, viewers=count)
            viewer.frame(payload)
            assert decode(payload) == whole(payload)
        assert len(loads) == 1  # the replay, once
        assert [(v.ledger.last_id, v.ledger.comments, v.ledger.gaps) for v in viewers] == [
            (7, 3, 0)
        ] * 3

    def test_a_hello_written_otherwise_is_still_decoded_right(self):
        replay = json.dumps([comment(5, 105)])[1:-1]
        spaced_hello = '{"type":"hello", "id": null, "ts": 1, "data": {"last_event_id": 4}}'
        spaced = "[" + spaced_hello + " ," + replay + "]"
        assert decode(spaced) == whole(spaced)
        tricky = hello(4)
        tricky["data"]["title"] = '"},{"type":"comment.created","id":9,"ts":1,"data":{"id":1}}'
        payload = json.dumps([tricky, comment(5, 105)], separators=(",", ":"))
        assert decode(payload) == whole(payload)

    def test_a_replay_is_never_taken_for_a_frame_with_the_same_text(self):
        replay = [comment(5, 105), comment(6, 106)]
        first = first_frame(4, replay)
        rest = first[first.index(b"},{") + 1 :]  # ",{...},{...}]"
        decode(first)
        with pytest.raises(json.JSONDecodeError):
            decode(rest)

    def test_frames_still_in_use_outlast_a_full_cache(self, monkeypatch):
        monkeypatch.setattr(frames, "DECODED_KEPT", 2)
        loads = []
        checks = frames._checks
        monkeypatch.setattr(frames, "_checks", lambda text: loads.append(text) or checks(text))
        shared = json.dumps([comment(1, 100)])
        others = [json.dumps([comment(i, 100 + i)]) for i in range(2, 9)]
        decode(shared)
        for other in others:
            decode(other)
            assert decode(shared) == whole(shared)  # used between the others: kept
        assert loads.count(shared) == 1
        assert all(decode(other) == whole(other) for other in others)
