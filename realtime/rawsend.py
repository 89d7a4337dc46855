"""Writing a batch straight to the socket, under uvicorn: WebSocket and SSE.

A frame from a server to a client is the same bytes for every connection (servers do not mask),
so a batch's frame is built once (``Batch.websocket_frame``) and each connection's share of a
fan-out is one ``transport.write``. Through ASGI's ``send`` uvicorn builds the frame again for
every connection, through its WebSocket library: measured, that was a large share of a
delivery's server CPU besides the system call itself (docs/performance.md).

``raw_writer(send)`` recognises the ``send`` of uvicorn's sans-I/O WebSocket protocol
(``--ws websockets-sansio``, or the production command line's
``--ws realtime.uvicornws:WebSocketProtocol``, a subclass) and returns a ``RawWriter`` for it, or
None for any other server (daphne, tests' in-process clients), which keep using ``send``. A
``RawWriter`` writes only while the connection is open and its buffer is not over uvicorn's
high-water mark; otherwise it says no, and the caller uses ``send``, which waits for the buffer
to drain. Whole frames only, never fragments, so uvicorn's own frames (pings, close) still
interleave correctly; and uncompressed, which RFC 7692 allows even where per-message deflate
was negotiated (the frame's RSV1 bit says so; the compressor's context is not touched).

SSE is the same idea for a chunked HTTP response (``Batch.sse_chunk``): ``raw_body_writer(send)``
gives a ``RawBodyWriter`` when ``send`` is uvicorn's httptools one, else None. Between the
chunks the response sends through ``send`` it writes whole chunks of its own, only once the
response has started and only while it is chunked (uvicorn chunks a response that has no
``Content-Length``).

Both take a ``Batch`` (``write(batch)``) and are what a ``realtime.connection.Connection`` calls
for each batch the hub hands it: the fan-out's cost per connection is this call and the system
call in it, so it reads as few objects as it can (the transport and the WebSocket state are
looked up once, when the writer is made).
"""

from __future__ import annotations

from typing import Any

from realtime.protocol import Batch

try:
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from websockets.protocol import State
except ImportError:  # uvicorn (or its websockets, or httptools) not installed: no raw writes
    WebSocketsSansIOProtocol = RequestResponseCycle = None  # type: ignore[assignment,misc]
else:
    _OPEN = State.OPEN


class RawWriter:
    """Writes whole frames to one uvicorn WebSocket connection's transport."""

    __slots__ = ("_conn", "_protocol", "_transport")

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol
        # Set before the application runs and never replaced.
        self._conn = protocol.conn
        self._transport = protocol.transport

    def write(self, batch: Batch) -> bool:
        """Write the batch's frame now: False, writing nothing, unless the connection is open
        and its buffer has room."""
        protocol = self._protocol
        transport = self._transport
        if (
            protocol.close_sent
            or protocol.disconnected
            or not protocol.writable.is_set()
            or self._conn.state is not _OPEN
            or transport.is_closing()
        ):
            return False
        transport.write(batch.websocket_frame)
        return True


def raw_writer(send: Any) -> RawWriter | None:
    """A ``RawWriter`` when ``send`` is uvicorn's sans-I/O WebSocket ``send``, else None."""
    protocol = getattr(send, "__self__", None)
    if WebSocketsSansIOProtocol is None or not isinstance(protocol, WebSocketsSansIOProtocol):
        return None
    return RawWriter(protocol)


class RawBodyWriter:
    """Writes whole chunks to one uvicorn (httptools) chunked response's transport."""

    __slots__ = ("_cycle",)

    def __init__(self, cycle: Any) -> None:
        self._cycle = cycle

    def write(self, batch: Batch) -> bool:
        """Write the batch's message as one HTTP chunk now: False, writing nothing, unless the
        response is under way, chunked, and its buffer has room."""
        cycle = self._cycle
        if (
            not cycle.response_started
            or cycle.response_complete
            or cycle.disconnected
            or not cycle.chunked_encoding
            or cycle.flow.write_paused
            or cycle.transport.is_closing()
        ):
            return False
        cycle.transport.write(batch.sse_chunk)
        return True


def raw_body_writer(send: Any) -> RawBodyWriter | None:
    """A ``RawBodyWriter`` when ``send`` is uvicorn's httptools HTTP ``send``, else None."""
    cycle = getattr(send, "__self__", None)
    if RequestResponseCycle is None or not isinstance(cycle, RequestResponseCycle):
        return None
    return RawBodyWriter(cycle)
