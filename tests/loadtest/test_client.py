"""The load tool's receivers: frames and SSE messages in, checked events out."""

from __future__ import annotations

import asyncio
import json
import random
import struct
import time

import pytest

from loadtest import frames
from loadtest.client import SSEStream, Viewer, WebSocketStream
from loadtest.frames import IGNORED
from loadtest.stats import Histogram, Reservoir

TOTALS = {"totals": {"like": 1}, "total": 1}


def new_viewer() -> Viewer:
    viewer = Viewer(Histogram(), Reservoir(10))
    viewer.measuring = True
    return viewer


def hello(last_id: int) -> dict:
    data = {"broadcast": {"reactions": {"totals": {}, "total": 0}}, "last_event_id": last_id}
    return {"type": "hello", "id": None, "ts": time.time() * 1000, "data": data}


def comment(event_id: int, pk: int, ts: float | None = None) -> dict:
    ts = time.time() * 1000 if ts is None else ts
    return {"type": "comment.created", "id": event_id, "ts": ts, "data": {"id": pk}}


def reactions(data: dict) -> dict:
    return {"type": "reactions", "id": None, "ts": time.time() * 1000, "data": data}


def ws_frame(payload: bytes, *, opcode: int = 1) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 126]) + struct.pack("!H", n)
    else:
        head = bytes([0x80 | opcode, 127]) + struct.pack("!Q", n)
    return head + payload


class TestViewer:
    def test_hello_starts_the_ledger_and_later_frames_are_measured(self):
        viewer = new_viewer()
        viewer.frame(json.dumps([hello(4)]))
        viewer.frame(json.dumps([comment(5, 100, ts=time.time() * 1000 - 30), reactions(TOTALS)]))
        assert viewer.ledger.comments == 1
        assert viewer.totals == TOTALS
        assert viewer.tally.deliveries == 2
        assert viewer.histogram.total == 2
        assert 25 <= viewer.histogram.max_ms < 1000

    def test_a_replay_in_the_first_frame_is_checked_but_not_measured(self):
        viewer = new_viewer()
        viewer.frame(json.dumps([hello(2), comment(1, 7, ts=0), comment(2, 8, ts=0)]))
        assert viewer.histogram.total == 0

    def test_the_hello_brings_the_current_totals(self):
        viewer = new_viewer()
        viewer.frame(json.dumps([hello(0)]))
        assert viewer.totals == {"totals": {}, "total": 0}

    def test_a_duplicate_comment_is_not_counted_twice(self):
        viewer = new_viewer()
        viewer.frame(json.dumps([hello(0)]))
        viewer.frame(json.dumps([comment(1, 100)]))
        viewer.frame(json.dumps([comment(1, 100)]))
        assert (viewer.ledger.comments, viewer.ledger.duplicates) == (1, 1)

    def test_refusals_are_counted_by_their_code(self):
        viewer = new_viewer()
        viewer.frame(json.dumps([hello(0)]))
        for code in ("rate_limited", "rate_limited", "forbidden"):
            error = {"code": code, "message": "no"}
            viewer.frame(json.dumps([{"type": "error", "id": None, "ts": 0, "data": error}]))
        assert viewer.errors == {"rate_limited": 2, "forbidden": 1}
        assert viewer.tally.deliveries == 0

    def test_viewers_given_the_same_frame_each_check_it(self):
        viewers = [new_viewer(), new_viewer()]
        shared = json.dumps([comment(1, 100), reactions(TOTALS)])
        for viewer in viewers:
            viewer.frame(json.dumps([hello(0)]))
            viewer.frame(shared)
        assert [(v.ledger.comments, v.tally.deliveries, v.totals) for v in viewers] == [
            (1, 2, TOTALS),
            (1, 2, TOTALS),
        ]

    def test_a_pong_answers_the_ping_and_is_not_a_delivery(self):
        viewer = new_viewer()
        viewer.frame(json.dumps([hello(0)]))
        loop = asyncio.new_event_loop()
        try:
            viewer.pong = loop.create_future()
            viewer.frame('[{"type":"pong","id":null,"ts":1,"data":{}}]')
            assert viewer.pong.done()
        finally:
            loop.close()
        assert viewer.tally.deliveries == 0

    def test_keepalives_are_not_deliveries(self):
        viewer = new_viewer()
        viewer.frame(json.dumps([hello(0)]))
        viewer.frame('[{"type":"keepalive","id":null,"ts":1,"data":{}}]')
        assert viewer.tally.deliveries == 0


class Reference:
    """A viewer as first written: every event of every frame checked one by one."""

    def __init__(self) -> None:
        self.viewer = new_viewer()
        self.viewer.reservoir = Reservoir(5, random.Random(1))

    def frame(self, payload: str) -> None:
        viewer, now = self.viewer, time.time() * 1000
        viewer.tally.frames += 1
        latencies = [] if viewer.measuring and viewer.connected_at is not None else None
        for event in json.loads(payload):
            kind, event_id, data = event["type"], event["id"], event["data"]
            if kind in IGNORED:
                continue
            if kind in ("hello", "error", "pong"):
                viewer._answer(frames._ACTIONS[kind], data)  # answers: as before
                continue
            if event_id is not None and not viewer.ledger.event(event_id):
                continue
            viewer.tally.deliveries += 1
            if kind == "reactions":
                viewer.totals = data
            elif kind == "comment.created":
                viewer.ledger.comment(data["id"])
            elif kind == "reset":
                viewer.ledger.reset(data["last_event_id"])
            if latencies is not None:
                latencies.append(now - event["ts"])
        if latencies:
            viewer.histogram.add_all(latencies)
            viewer.reservoir.add_all(now / 1000, latencies)


def random_frame(rng: random.Random, next_id: int) -> tuple[list[dict], int]:
    events = []
    for _ in range(rng.randint(0, 6)):
        roll = rng.random()
        if roll < 0.1:
            events.append({"type": "keepalive", "id": None, "ts": 1, "data": {}})
        elif roll < 0.15:
            events.append(
                {"type": "reset", "id": None, "ts": 1, "data": {"last_event_id": next_id}}
            )
        elif roll < 0.3:
            events.append(reactions({"totals": {"like": next_id}, "total": next_id}))
        else:
            # Mostly the next id; sometimes one skipped, repeated, older, or none at all.
            next_id += rng.choice([1, 1, 1, 1, 2, 0, -1])
            event = comment(next_id, rng.randint(1, 1000), ts=rng.uniform(0, 2000))
            event["id"] = rng.choice([event["id"]] * 9 + [None, 0])
            events.append(event)
    return events, next_id


@pytest.mark.usefixtures("fresh_cache")
def test_frames_taken_at_once_come_to_what_checking_each_event_does(monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 2.0)  # one clock: latencies alike
    rng = random.Random(5)
    for _ in range(300):
        viewer, reference = new_viewer(), Reference()
        viewer.reservoir = Reservoir(5, random.Random(1))
        viewer.measuring = reference.viewer.measuring = rng.random() < 0.8
        start = rng.choice([0, 10])
        frames = [json.dumps([hello(start)])] if rng.random() < 0.8 else []  # or none yet
        next_id = start
        for _ in range(rng.randint(1, 12)):
            events, next_id = random_frame(rng, next_id)
            if rng.random() < 0.1:  # a reconnect: a hello and a replay
                events.insert(0, hello(next_id - rng.randint(0, 3)))
            frames.append(json.dumps(events, separators=(",", ":")))
        for payload in frames:
            for one in (viewer, reference):
                one.frame(payload if rng.random() < 0.5 else payload.encode())
        got, want = viewer, reference.viewer
        assert got.ledger == want.ledger
        assert (got.tally.deliveries, got.tally.frames, got.totals) == (
            want.tally.deliveries,
            want.tally.frames,
            want.totals,
        )
        assert got.histogram == want.histogram
        assert got.reservoir.points == want.reservoir.points


def test_an_id_of_0_before_any_hello_is_checked_as_one_by_one():
    viewer = new_viewer()
    viewer.frame(json.dumps([comment(0, 1), comment(5, 2)]))
    assert (viewer.ledger.gaps, viewer.ledger.last_id, viewer.ledger.comments) == (0, 5, 2)


class FakeTransport:
    """Stands in for the socket: these tests feed bytes, no network is involved."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def abort(self) -> None:
        self.closed = True

    close = abort


def opened(stream):
    stream.connection_made(FakeTransport())
    return stream


class TestWebSocketStream:
    def stream(self, viewer: Viewer) -> WebSocketStream:
        return opened(WebSocketStream(viewer, "127.0.0.1", 8100, "/ws/x/", on_lost=lambda: None))

    def test_sends_an_upgrade_with_an_origin(self):
        stream = self.stream(new_viewer())
        request = stream.transport.written[0].decode()
        assert request.startswith("GET /ws/x/ HTTP/1.1\r\n")
        assert "Upgrade: websocket" in request
        assert "Origin: http://127.0.0.1:8100" in request

    def test_frames_split_anywhere_are_reassembled(self):
        viewer = new_viewer()
        stream = self.stream(viewer)
        big = [comment(i, 1000 + i) for i in range(1, 400)]  # > 64 KB: an 8-byte length
        data = (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
            + ws_frame(json.dumps([hello(0)]).encode())
            + ws_frame(json.dumps(big[:1]).encode())
            + ws_frame(json.dumps(big[1:]).encode())
        )
        for i in range(0, len(data), 777):
            stream.data_received(data[i : i + 777])
        assert (viewer.ledger.comments, viewer.ledger.gaps) == (399, 0)

    def test_whole_frames_and_a_partial_one_in_one_read(self):
        viewer = new_viewer()
        stream = self.stream(viewer)
        stream.data_received(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
        frames = [ws_frame(json.dumps([hello(0)]).encode())]
        frames += [ws_frame(json.dumps([comment(i, 100 + i)]).encode()) for i in (1, 2, 3)]
        data = b"".join(frames)
        cut = len(data) - 5
        stream.data_received(data[:cut])
        assert viewer.ledger.comments == 2
        stream.data_received(data[cut:])
        ledger = viewer.ledger
        assert (ledger.comments, ledger.comment_sum, ledger.gaps) == (3, 306, 0)

    def test_a_close_frame_records_its_code(self):
        viewer = new_viewer()
        stream = self.stream(viewer)
        stream.data_received(
            b"HTTP/1.1 101 OK\r\n\r\n" + ws_frame(struct.pack("!H", 4008), opcode=8)
        )
        assert viewer.close_code == 4008
        assert stream.transport.closed

    def test_a_refused_upgrade_closes(self):
        stream = self.stream(new_viewer())
        stream.data_received(b"HTTP/1.1 403 Forbidden\r\n\r\n")
        assert stream.transport.closed


class TestSSEStream:
    def test_chunked_messages_are_handed_on(self):
        viewer = new_viewer()
        stream = opened(SSEStream(viewer, "127.0.0.1", 8100, "/sse/x/", 3, on_lost=lambda: None))
        assert b"Last-Event-ID: 3\r\n" in stream.transport.written[0]
        body = (
            b"retry: 2000\nid: 3\ndata: " + json.dumps([hello(3)]).encode() + b"\n\n"
            b": keepalive\n\n"
            b"id: 4\ndata: " + json.dumps([comment(4, 40)]).encode() + b"\n\n"
        )
        chunks = b"".join(
            f"{len(body[i : i + 50]):x}\r\n".encode() + body[i : i + 50] + b"\r\n"
            for i in range(0, len(body), 50)
        )
        data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
        for i in range(0, len(data), 33):
            stream.data_received(data[i : i + 33])
        assert (viewer.ledger.comments, viewer.ledger.last_id, viewer.tally.frames) == (1, 4, 2)

    def test_the_end_of_the_response_hangs_up_to_reconnect(self):
        # A stopping server ends its SSE responses; nginx keeps the client's connection open.
        viewer = new_viewer()
        stream = opened(SSEStream(viewer, "127.0.0.1", 8100, "/sse/x/", 3, on_lost=lambda: None))
        body = b"id: 4\ndata: " + json.dumps([comment(4, 40)]).encode() + b"\n\nretry: 100\n\n"
        stream.data_received(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + f"{len(body):x}\r\n".encode()
            + body
            + b"\r\n0\r\n\r\n"
        )
        assert viewer.ledger.comments == 1
        assert stream.transport.closed


async def test_losing_an_old_connection_does_not_fail_the_next_ones_hello():
    viewer = new_viewer()
    viewer.hello = asyncio.get_running_loop().create_future()
    old = opened(WebSocketStream(viewer, "127.0.0.1", 8100, "/ws/x/", on_lost=lambda: None))
    viewer.hello = asyncio.get_running_loop().create_future()  # a reconnect begins
    new = opened(WebSocketStream(viewer, "127.0.0.1", 8100, "/ws/x/", on_lost=lambda: None))
    old.connection_lost(None)  # the dropped connection's close arrives late
    assert not viewer.hello.done()
    new.data_received(b"HTTP/1.1 101 OK\r\n\r\n" + ws_frame(json.dumps([hello(0)]).encode()))
    assert viewer.hello.done()
    assert viewer.hello.exception() is None
