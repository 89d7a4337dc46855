"""The stream's event envelope, and frames built from events encoded once.

An event is ``{"type": str, "id": int | null, "ts": float, "data": {...}}``. Every process
encodes an event to JSON once (or receives it already encoded from Redis) and keeps the
string: a frame for a connection is those strings joined into a JSON array, so fanning one
event out to many connections never encodes it again.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Keep-alive on WebSocket: an event clients ignore, sent only when nothing else was sent.
KEEPALIVE = "keepalive"
# Keep-alive on SSE: a comment line, which ``EventSource`` ignores.
SSE_KEEPALIVE = b": keepalive\n\n"
# History lost events: the client refetches; what follows continues from its last_event_id.
RESET = "reset"


def encode_data(data: dict[str, Any]) -> str:
    """``data`` as compact JSON; raises ``TypeError`` for anything JSON cannot carry."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def now_ms() -> float:
    """The server's clock in milliseconds since the epoch, as events carry it."""
    return round(time.time() * 1000, 3)


def encoded_parts(event_type: str, ts: float, data_json: str) -> tuple[str, str]:
    """The encoded event split around its id: ``prefix + str(id) + suffix``.

    The history store assigns the id, so it can finish the string without decoding it.
    """
    return f'{{"type":{json.dumps(event_type)},"id":', f',"ts":{ts!r},"data":{data_json}}}'


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    id: int | None
    ts: float
    data: dict[str, Any]
    encoded: str

    @property
    def recoverable(self) -> bool:
        return self.id is not None


def make_event(
    event_type: str,
    data: dict[str, Any],
    *,
    event_id: int | None = None,
    ts: float | None = None,
    data_json: str | None = None,
) -> Event:
    """Build and encode an event (``data_json`` when the caller has already encoded ``data``)."""
    ts = now_ms() if ts is None else ts
    prefix, suffix = encoded_parts(
        event_type, ts, encode_data(data) if data_json is None else data_json
    )
    encoded = prefix + ("null" if event_id is None else str(event_id)) + suffix
    return Event(event_type, event_id, ts, data, encoded)


def decode_event(encoded: str | bytes) -> Event:
    """An event received already encoded (from Redis); the string is kept as is."""
    text = encoded.decode() if isinstance(encoded, bytes) else encoded
    raw = json.loads(text)
    return Event(raw["type"], raw["id"], raw["ts"], raw["data"], text)


def frame(events: Iterable[Event]) -> str:
    """One WebSocket text frame (or SSE ``data:``): the events as a JSON array, in order."""
    return "[" + ",".join(event.encoded for event in events) + "]"


class Batch:
    """Events the hub hands on together, in id order. Their frame text is built once and
    shared by every connection that sends them all (most do); ``first_id``/``last_id`` (None
    when no event has an id) and ``has_reset`` let a connection see that at a glance."""

    __slots__ = (
        "_sse_chunk",
        "_sse_message",
        "_text",
        "_websocket_frame",
        "events",
        "first_id",
        "has_reset",
        "last_id",
    )

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        ids = [event.id for event in events if event.id is not None]
        self.first_id = ids[0] if ids else None
        self.last_id = ids[-1] if ids else None
        self.has_reset = any(event.type == RESET for event in events)
        self._text: str | None = None
        self._websocket_frame: bytes | None = None
        self._sse_message: bytes | None = None
        self._sse_chunk: bytes | None = None

    @property
    def text(self) -> str:
        """The events' frame (see ``frame``), built on first use."""
        if self._text is None:
            self._text = frame(self.events)
        return self._text

    @property
    def websocket_frame(self) -> bytes:
        """``text`` as a whole WebSocket frame, ready for the socket, built on first use."""
        if self._websocket_frame is None:
            self._websocket_frame = websocket_text_frame(self.text.encode())
        return self._websocket_frame

    @property
    def sse_message(self) -> bytes:
        """The events as one SSE message (see ``sse_message``), built on first use; a lone
        keep-alive is the SSE comment ``SSE_KEEPALIVE`` instead."""
        if self._sse_message is None:
            events = self.events
            if len(events) == 1 and events[0].type == KEEPALIVE:
                self._sse_message = SSE_KEEPALIVE
            else:
                self._sse_message = _sse_message(self.last_id, self.text)
        return self._sse_message

    @property
    def sse_chunk(self) -> bytes:
        """``sse_message`` in one HTTP/1.1 chunk, built on first use."""
        if self._sse_chunk is None:
            self._sse_chunk = http_chunk(self.sse_message)
        return self._sse_chunk


def sse_message(events: list[Event]) -> bytes:
    """One SSE message carrying ``events``, with ``id:`` set to their last id, so
    ``EventSource`` resumes with ``Last-Event-ID``."""
    return _sse_message(last_id(events), frame(events))


def _sse_message(newest: int | None, frame_text: str) -> bytes:
    head = "" if newest is None else f"id: {newest}\n"
    return f"{head}data: {frame_text}\n\n".encode()


def http_chunk(payload: bytes) -> bytes:
    """``payload`` as one chunk of an HTTP/1.1 chunked body (RFC 9112 7.1)."""
    return b"%x\r\n" % len(payload) + payload + b"\r\n"


_TEXT_FIN = 0x81  # FIN bit + opcode 1 (text)


def websocket_text_frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented WebSocket text frame, as a server sends it (RFC 6455 5.2)."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", _TEXT_FIN, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", _TEXT_FIN, 126, size)
    else:
        header = struct.pack("!BBQ", _TEXT_FIN, 127, size)
    return header + payload


def last_id(events: Iterable[Event]) -> int | None:
    """The last non-null id among ``events`` (what an SSE message's ``id:`` carries)."""
    found = None
    for event in events:
        if event.id is not None:
            found = event.id
    return found


def parse_last_event_id(value: str | None) -> int | None:
    """``last_event_id`` from a query string or header; ValueError unless a number >= 0."""
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 18):
        raise ValueError(value)
    return int(value)
