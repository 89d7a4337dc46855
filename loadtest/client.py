"""Minimal receive-only stream clients: one WebSocket or SSE viewer per ``asyncio.Protocol``.

A general client (``websockets``) spends tens of microseconds of Python per frame; these parse
only what a viewer receives (unmasked server frames, or a chunked ``text/event-stream``), so a
worker process can take well over 100,000 events a second. Each distinct frame is decoded once
per worker (``loadtest.frames``) and every event in it is checked by every viewer that received
it: latency from its ``ts``, its id in the viewer's ``Ledger`` (a frame whose ids rise, all
after the viewer's last, at once).
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from loadtest.frames import (
    _NO_TOTALS,
    COMMENT,
    ERROR,
    HELLO,
    PONG,
    REACTIONS,
    RESET,
    Check,
    decode,
)
from loadtest.stats import Histogram, Ledger, Reservoir, Tally


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
