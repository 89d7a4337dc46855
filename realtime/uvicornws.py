"""uvicorn's sans-I/O WebSocket protocol, holding less per connection: the production command
line's ``--ws realtime.uvicornws:WebSocketProtocol`` (instead of ``--ws websockets-sansio``).

An idle WebSocket connection under uvicorn's own protocol holds a good deal of the server's
memory before the application keeps anything (measured with a bare ASGI app:
docs/performance.md). Three parts of it do nothing while a connection is open:

- the opening handshake's request and response (websockets' ``Request`` and ``Response``, with
  their headers): uvicorn keeps them for the life of the connection but reads them only until
  it has answered the handshake. They are dropped once it has, and the request's headers
  emptied (websockets' parser still holds the request);
- a dictionary per connection: uvicorn's protocol sets more attributes than an instance
  dictionary shares its keys for; here they are slots;
- the queue of received messages: an ``asyncio.Queue`` allocates four deques up front (its
  getters, its putters, its items and its ``join`` event's waiters), for the handful of
  messages a connection ever has waiting. ``_Inbox`` does what the protocol asks of it
  (``put_nowait``, ``get``, ``empty``) with a list, and a list of waiters only while someone
  waits; ``_Flag`` does the same for the ``writable`` event.

Everything else is uvicorn's code, unchanged, and ``realtime.rawsend`` recognises the protocol
as uvicorn's sans-I/O one. It leans on uvicorn's internals (the protocol's ``queue``,
``writable``, ``request``, ``response`` and ``start_keepalive``), so it is used only under the
uvicorn versions it was written for (``UVICORN_VERSIONS``): under any other,
``WebSocketProtocol`` is uvicorn's own protocol, unchanged, and a warning says so at import.
``tests/realtime/test_uvicornws.py`` runs the stream under a real uvicorn with it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

logger = logging.getLogger(__name__)

# The uvicorn releases (major.minor) whose protocol internals this was written against.
UVICORN_VERSIONS = ("0.54",)


class _Inbox:
    """A FIFO of received messages with ``asyncio.Queue``'s ``put_nowait``, ``get`` (waiting
    getters are served in order; one cancelled after being woken hands the wake-up on) and
    ``empty``, unbounded, in a fraction of its memory."""

    __slots__ = ("_getters", "_items")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._getters: list[asyncio.Future[None]] | None = None  # made by the first wait

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._wake_next()

    async def get(self) -> Any:
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            if self._getters is None:
                self._getters = []
            getters = self._getters
            getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()
                if getter in getters:
                    getters.remove(getter)
                if self._items and not getter.cancelled():
                    self._wake_next()  # woken, then cancelled: the next getter takes the item
                raise
        return self._items.pop(0)

    def _wake_next(self) -> None:
        getters = self._getters
        while getters:
            getter = getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                return


class _Flag:
    """``asyncio.Event``'s ``is_set``, ``set``, ``clear`` and ``wait``, with a list of waiters
    only while someone waits (an ``asyncio.Event`` allocates a deque up front)."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if not self._set:
            self._set = True
            waiters, self._waiters = self._waiters, None
            for waiter in waiters or ():
                if not waiter.done():
                    waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        if self._set:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        waiters = self._waiters
        waiters.append(waiter)
        try:
            await waiter
            return True
        finally:
            if waiter in waiters:
                waiters.remove(waiter)


# Every attribute uvicorn's protocol sets on itself. It sets more than CPython shares an
# instance dictionary's keys for (30), so each connection's protocol had a whole dictionary of
# its own; as slots they are a pointer each. One uvicorn might add goes to the dictionary.
_PROTOCOL_ATTRIBUTES = (
    "app", "app_state", "asgi_version", "client", "close_sent", "close_timeout", "close_timer",
    "config", "conn", "connections", "curr_msg_data_type", "default_headers", "disconnected",
    "frames", "handshake_complete", "handshake_initiated", "initial_response", "last_ping_rtt",
    "logger", "loop", "pending_ping_payload", "ping_interval", "ping_sent_at", "ping_timeout",
    "ping_timer", "pong_timer", "queue", "read_paused", "request", "response", "root_path",
    "scheme", "scope", "server", "tasks", "transport", "writable",
)  # fmt: skip


class TrimmedWebSocketProtocol(WebSocketsSansIOProtocol):
    """``WebSocketsSansIOProtocol`` without the state it no longer reads, and its attributes
    in slots (see the module)."""

    __slots__ = _PROTOCOL_ATTRIBUTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Inbox()  # type: ignore[assignment]
        self.writable = _Flag()  # type: ignore[assignment]
        self.writable.set()

    def start_keepalive(self) -> None:
        # Called once the handshake has been answered (101): its request and response are not
        # read again. websockets' parser (a generator) keeps the request as a local for the
        # life of the connection, so its headers are emptied too (the scope has its copy).
        if self.request is not None:
            self.request.headers.clear()
        self.request = self.response = None
        super().start_keepalive()

    def handle_parser_exception(self) -> None:
        """A client's frame broke the protocol (e.g. over ``--ws-max-size``): as uvicorn's,
        the close frame (1009, ...) is sent, but then the socket is shut for writing and read
        (and discarded) until the client hangs up or ``close_timeout`` passes, instead of
        closed at once. Closed with the rest of the frame unread, the kernel sends a reset,
        which may discard the close frame before the client (or a proxy) reads it: the
        client would see 1006 and never learn why."""
        if self.close_sent:
            return  # called again for each read after the first: already closing
        assert self.conn.close_sent is not None
        close = self.conn.close_sent
        self.queue.put_nowait(
            {"type": "websocket.disconnect", "code": close.code, "reason": close.reason}
        )
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)


def protocol_for(version: str) -> type[WebSocketsSansIOProtocol]:
    """The protocol to serve with under uvicorn ``version``: the trimmed one where it was
    written for that release, else uvicorn's own (and a warning, once, at import)."""
    if ".".join(version.split(".")[:2]) in UVICORN_VERSIONS:
        return TrimmedWebSocketProtocol
    logger.warning(
        "realtime.uvicornws was written for uvicorn %s, not %s: serving WebSockets with "
        "uvicorn's own sans-I/O protocol instead (more memory per connection)",
        " or ".join(UVICORN_VERSIONS),
        version,
    )
    return WebSocketsSansIOProtocol


WebSocketProtocol = protocol_for(uvicorn.__version__)
