"""Minimal receive-only stream clients: one WebSocket or SSE viewer per ``asyncio.Protocol``.

A general client (``websockets``) spends tens of microseconds of Python per frame; these parse
only what a viewer receives (unmasked server frames, or a chunked ``text/event-stream``), so a
worker process can take well over 100,000 events a second. Each distinct frame is decoded once
per worker (``decode``) and every event in it is checked by every viewer that received it:
latency from its ``ts``, its id in the viewer's ``Ledger`` (a frame whose ids rise, all after
the viewer's last, at once: ``Run``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import time
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from typing import Any

from loadtest.stats import Histogram, Ledger, Reservoir, Tally

IGNORED = frozenset({"keepalive", "viewers", "presence"})

# What a viewer does with an event, decided once per distinct frame (``decode``). The answers
# to the viewer itself come first: one comparison sets them apart from the stream's events.
HELLO, ERROR, PONG, REACTIONS, COMMENT, RESET, OTHER = range(7)
_ACTIONS = {"hello": HELLO, "error": ERROR, "reactions": REACTIONS, "comment.created": COMMENT}
_ACTIONS.update({"reset": RESET, "pong": PONG})

# One event as a viewer checks it: (action, id, ts, detail). ``detail`` is what the action
# needs: the hello's data, the reactions totals, the comment's pk, the reset's last id.
Check = tuple[int, "int | None", float, Any]
_NO_TOTALS: Any = object()


class Run:
    """What a frame's events come to for a viewer that has seen none of their ids: worked out
    once per distinct frame, for frames of deliveries only (no answer, no ``reset``) whose ids
    rise from above 0 (``Run.of``). A viewer whose ledger ends before ``first_id`` takes them
    all at once, as checking each would (``Ledger.events``); any other checks each."""

    __slots__ = ("comment_sum", "comments", "deliveries", "first_id", "ids", "last_id")
    __slots__ += ("stamps", "totals")

    def __init__(self, checks: list[Check], ids: list[int]) -> None:
        self.first_id, self.last_id = (ids[0], ids[-1]) if ids else (None, None)
        self.ids, self.deliveries = len(ids), len(checks)
        pks = [detail for action, _, _, detail in checks if action == COMMENT]
        self.comments, self.comment_sum = len(pks), sum(pks)
        totals = [detail for action, _, _, detail in checks if action == REACTIONS]
        self.totals = totals[-1] if totals else _NO_TOTALS
        self.stamps = [check[2] for check in checks]  # every event's ``ts``, in order

    @staticmethod
    def of(checks: list[Check]) -> Run | None:
        """The run of ``checks``, or None when they must be checked one by one."""
        ids = [check[1] for check in checks if check[1] is not None]
        if any(check[0] not in (REACTIONS, COMMENT, OTHER) for check in checks):
            return None
        if any(type(i) is not int or i <= 0 for i in ids) or any(b <= a for a, b in pairwise(ids)):
            return None
        return Run(checks, ids)


class Checks(list[Check]):
    """A frame's checks, in order. ``hello``: a first frame's ``hello`` data, answered before
    the rest; ``run``: what the rest come to (None: check them one by one)."""

    __slots__ = ("hello", "run")

    def __init__(self, checks: list[Check], run: Run | None, hello: Any = None) -> None:
        super().__init__(checks)
        self.run, self.hello = run, hello


DECODED_KEPT = 2048  # frames whose decoded events are kept, in each of two generations

# Frames met recently, and those met before them. A frame found in ``_older`` moves to
# ``_recent``; when ``_recent`` is full it becomes ``_older`` (the older ones go): the frames
# of a fan-out still under way stay, where clearing everything made them decoded again.
_Key = bytes | str | tuple[int, str]
_recent: dict[_Key, Checks] = {}
_older: dict[_Key, Checks] = {}

# A first frame: the viewer's own ``hello``, then the events it missed (the same text for every
# viewer resuming from the same id). Encoded as ``realtime.protocol.encoded_parts`` writes it.
_HELLO_TEXT = '[{"type":"hello",'
_HELLO_BYTES = _HELLO_TEXT.encode()
_decoder = json.JSONDecoder()
_REPLAY = 0  # a replay's key: (_REPLAY, its text after the hello)
_NOTHING = Checks([], Run([], []))


def decode(payload: bytes | str) -> Checks:
    """A frame's events, as checks. The server sends every viewer of a broadcast the same
    frame, byte for byte, so a worker decodes each distinct frame once and its viewers share
    the result (they only read it); every viewer still checks every event. A first frame is
    distinct (its ``hello``): the ``hello`` is decoded alone and the replay after it shared."""
    checks = _recent.get(payload)
    if checks is None:
        checks = _older.get(payload)
        if checks is None:
            if payload.startswith(_HELLO_BYTES if isinstance(payload, bytes) else _HELLO_TEXT):
                return _decode_first(payload)
            checks = _checks(payload)
        _keep(payload, checks)
    return checks


def _decode_first(payload: bytes | str) -> Checks:
    """A first frame's checks: its ``hello``'s own, then those of the events after it."""
    text = payload.decode() if isinstance(payload, bytes) else payload
    try:
        hello, end = _decoder.raw_decode(text, 1)
    except json.JSONDecodeError:
        return _checks(payload)  # not as the server writes it (it raises as before)
    rest = text[end:]  # "]", or ",{...},{...}]": the same for viewers resuming alike
    if rest == "]":
        checks = _NOTHING
    elif not rest.startswith(","):
        return _checks(payload)
    else:
        key = (_REPLAY, rest)  # never equal to a whole frame's key
        checks = _recent.get(key)
        if checks is None:
            checks = _older.get(key)
            if checks is None:
                checks = _checks("[" + rest[1:])
            _keep(key, checks)
    if hello["type"] in IGNORED:
        return checks
    first = _check(hello)
    if first[0] != HELLO:
        return Checks([first, *checks], None)
    return Checks([first, *checks], checks.run, hello=first[3])


def _keep(key: _Key, checks: Checks) -> None:
    global _recent, _older
    if len(_recent) >= DECODED_KEPT:
        _recent, _older = {}, _recent
    _recent[key] = checks


def _checks(payload: bytes | str) -> Checks:
    checks = [_check(event) for event in json.loads(payload) if event["type"] not in IGNORED]
    return Checks(checks, Run.of(checks))


def _check(event: dict[str, Any]) -> Check:
    action = _ACTIONS.get(event["type"], OTHER)
    data = event["data"]
    if action == COMMENT:
        data = data["id"]
    elif action == RESET:
        data = data["last_event_id"]
    return (action, event["id"], event["ts"], data)


class Viewer:
    """One viewer's state across reconnects; fed decoded frames by a transport."""

    def __init__(
        self, histogram: Histogram, reservoir: Reservoir, tally: Tally | None = None
    ) -> None:
        self.ledger = Ledger()
        self.totals: dict[str, Any] | None = None  # the last reactions data seen
        self.histogram = histogram
        self.reservoir = reservoir
        self.hello: asyncio.Future[None] | None = None  # resolved by the next hello
        self.pong: asyncio.Future[None] | None = None  # resolved by the next pong
        self.tally = Tally() if tally is None else tally
        self.connected_at: float | None = None  # when the first frame (hello) arrived
        self.measuring = False  # latencies count only while the driver runs
        self.close_code: int | None = None
        self.errors: Counter[str] = Counter()  # error events (a refusal) by their code

    def frame(self, payload: bytes | str) -> None:
        # The hot path of the load generator (a call per frame per viewer): kept plain.
        now = time.time() * 1000
        self.tally.frames += 1
        # A first frame's replay is not live; the live ones' latencies are added together.
        live = self.measuring and self.connected_at is not None
        checks = decode(payload)
        run = checks.run
        if run is not None:
            if checks.hello is not None:
                self._hello(checks.hello)
                checks = checks[1:]  # type: ignore[assignment]
            if run.first_id is None or self.ledger.events(run.first_id, run.last_id, run.ids):
                self.tally.deliveries += run.deliveries
                if run.comments:
                    self.ledger.comments_of(run.comments, run.comment_sum)
                if run.totals is not _NO_TOTALS:
                    self.totals = run.totals
                if live and run.stamps:
                    self._measure(now, [now - ts for ts in run.stamps])
                return
        self._each(checks, now, live)

    def _each(self, checks: list[Check], now: float, live: bool) -> None:
        """Check ``checks`` one by one (answers, resets, an id already seen)."""
        latencies: list[float] | None = [] if live else None
        ledger, deliveries = self.ledger, 0
        for action, event_id, ts, detail in checks:
            if action <= PONG:
                self._answer(action, detail)
                continue
            if event_id is not None and not ledger.event(event_id):
                continue
            deliveries += 1
            if action == REACTIONS:
                self.totals = detail
            elif action == COMMENT:
                ledger.comment(detail)
            elif action == RESET:
                ledger.reset(detail)
            if latencies is not None:
                latencies.append(now - ts)
        self.tally.deliveries += deliveries
        if latencies:
            self._measure(now, latencies)

    def _measure(self, now: float, latencies: list[float]) -> None:
        self.histogram.add_all(latencies)
        self.reservoir.add_all(now / 1000, latencies)

    def connecting(self) -> None:
        """A new connection begins: the viewer is connected again once its hello arrives."""
        if self.connected_at is not None:
            self.tally.connected -= 1
        self.connected_at, self.close_code = None, None

    def _answer(self, action: int, detail: Any) -> None:
        """A ``hello``, an ``error`` (a refusal) or a ``pong``: not deliveries."""
        if action == HELLO:
            self._hello(detail)
        elif action == ERROR:
            self.errors[detail["code"]] += 1
        elif self.pong is not None and not self.pong.done():
            self.pong.set_result(None)

    def _hello(self, data: dict[str, Any]) -> None:
        self.ledger.start(data["last_event_id"])
        self.totals = data["broadcast"]["reactions"]
        if self.connected_at is None:
            self.tally.connected += 1
        self.connected_at = time.monotonic()
        if self.hello is not None and not self.hello.done():
            self.hello.set_result(None)


class _Stream(asyncio.Protocol):
    """Shared plumbing: an HTTP request out, a response head in, then a body parser."""

    def __init__(self, viewer: Viewer, request: bytes, on_lost: Callable[[], None]) -> None:
        self.viewer = viewer
        self.request = request
        self.on_lost = on_lost
        self.buffer = bytearray()
        self.head_done = False
        self.lost = False
        self.hello = viewer.hello  # this connection's own wait for its hello
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        hello = self.hello
        if hello is not None and not hello.done():
            hello.set_exception(ConnectionError(f"closed (code {self.viewer.close_code})"))
        self.on_lost()

    def data_received(self, data: bytes) -> None:
        if self.head_done and not self.buffer:
            # The usual case: whole frames, nothing left over from before; no copying.
            used = self.parse(data)
            if used < len(data):
                self.buffer += data[used:]
            return
        self.buffer += data
        if not self.head_done:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin1")
            del self.buffer[: end + 4]
            self.head_done = True
            if not self.accept_head(head):
                self.transport.close()  # type: ignore[union-attr]
                return
        del self.buffer[: self.parse(self.buffer)]

    def accept_head(self, head: str) -> bool:
        raise NotImplementedError("subclasses of _Stream must provide accept_head()")

    def parse(self, buf: bytes | bytearray) -> int:
        """Take what ``buf`` holds of the body; return how many bytes were used."""
        raise NotImplementedError("subclasses of _Stream must provide parse()")

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class WebSocketStream(_Stream):
    """Receives server frames (never masked), answers pings, sends text with ``send_text``."""

    def __init__(
        self, viewer: Viewer, host: str, port: int, path: str, token: str = "", **kw: Any
    ) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        auth = f"Authorization: Token {token}\r\n" if token else ""
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n{auth}"
            f"Sec-WebSocket-Version: 13\r\nOrigin: http://{host}:{port}\r\n\r\n"
        ).encode()
        super().__init__(viewer, request, **kw)
        self._fragments: list[bytes] = []

    def accept_head(self, head: str) -> bool:
        return head.startswith("HTTP/1.1 101")

    def parse(self, buf: bytes | bytearray) -> int:
        pos, end = 0, len(buf)
        while end - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length, start = b1 & 0x7F, pos + 2
            if length == 126:
                if end - pos < 4:
                    break
                length, start = struct.unpack_from("!H", buf, pos + 2)[0], pos + 4
            elif length == 127:
                if end - pos < 10:
                    break
                length, start = struct.unpack_from("!Q", buf, pos + 2)[0], pos + 10
            if end - start < length:
                break
            payload = bytes(buf[start : start + length])
            if b0 == 0x81:  # a whole text frame: what the server sends
                self.viewer.frame(payload)
            else:
                self._frame(b0, payload)
            pos = start + length
        return pos

    def send_text(self, text: str) -> None:
        """One masked text frame (clients must mask; the key is random per frame)."""
        payload = text.encode()
        n = len(payload)
        head = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0xFE]) + struct.pack("!H", n)
        mask = os.urandom(4)
        key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
        masked = (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")
        self.transport.write(head + mask + masked)  # type: ignore[union-attr]

    def _frame(self, b0: int, payload: bytes) -> None:
        opcode, fin = b0 & 0x0F, b0 & 0x80
        if opcode in (0x1, 0x0):
            self._fragments.append(payload)
            if fin:
                message, self._fragments = b"".join(self._fragments), []
                self.viewer.frame(message)
        elif opcode == 0x8:
            self.viewer.close_code = struct.unpack("!H", payload[:2])[0] if payload else 1005
            self.close()
        elif opcode == 0x9:  # ping: pong with the same payload, masked with a zero key
            self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)  # type: ignore[union-attr]


class SSEStream(_Stream):
    """Receives a chunked ``text/event-stream`` and hands on each message's ``data:``."""

    def __init__(
        self, viewer: Viewer, host: str, port: int, path: str, last_id: int | None, **kw: Any
    ) -> None:
        resume = "" if last_id is None else f"Last-Event-ID: {last_id}\r\n"
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Accept: text/event-stream\r\n{resume}\r\n"
        ).encode()
        super().__init__(viewer, request, **kw)
        self.chunked = False
        self.text = bytearray()  # the de-chunked stream

    def accept_head(self, head: str) -> bool:
        self.chunked = "transfer-encoding: chunked" in head.lower()
        return head.startswith("HTTP/1.1 200")

    def parse(self, buf: bytes | bytearray) -> int:
        pos = len(buf)
        if self.chunked:
            pos = 0
            while True:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    break
                size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
                if size == 0:
                    # The response ended (a server stopping ends its streams) and a proxy
                    # keeps the connection open for the next request: hang up and reconnect.
                    self._messages()
                    self.close()
                    return len(buf)
                if len(buf) < eol + 2 + size + 2:
                    break
                self.text += buf[eol + 2 : eol + 2 + size]
                pos = eol + 2 + size + 2
        else:
            self.text += buf
        self._messages()
        return pos

    def _messages(self) -> None:
        text, pos = self.text, 0
        while True:
            end = text.find(b"\n\n", pos)
            if end < 0:
                break
            for line in bytes(text[pos:end]).split(b"\n"):
                if line.startswith(b"data: "):
                    self.viewer.frame(line[6:])
            pos = end + 2
        del text[:pos]
