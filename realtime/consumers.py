"""The WebSocket transport: a generic consumer for one topic per connection.

A plain ASGI application rather than a Channels ``AsyncConsumer``: events from the hub go
from the connection's queue straight to ``send`` as one frame per batch, with no channel
layer (no per-viewer channel in Redis) and no ``dispatch`` hop per event. Client messages
are few and are handled one at a time, in order.

Subclasses provide the ``StreamHooks`` (``get_topic``: None closes with 4404; ``authorize``:
False closes with 4403; ``get_hello_data``; ``stream_opened``/``stream_closed``), and a
``receive_<type>`` method for each client message type they list in
``client_message_types``. ``ping`` is answered here. A message may carry a ``ref`` (a short
string or an integer): the ``error`` event that answers it carries the same ``ref``, and so
does any event a handler sends back with ``answer``. After
the first frame, each event (or reply to this client) is written at once while nothing is
queued or being written, and otherwise queued for a writer task that exists only until the
queue is empty (``Connection.serve``): either way in order. An idle connection holds no task
but the server's own.

Close codes: 4404 unknown topic, 4403 not authorized, 4008 slow consumer (resume with
``last_event_id``). Unknown topics are accepted and then closed, so browsers see the code.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from realtime import caps
from realtime.connection import Connection
from realtime.protocol import Batch, Event, frame, make_event, parse_last_event_id
from realtime.rawsend import raw_writer
from realtime.runtime import config
from realtime.transport import StreamTransport, start

logger = logging.getLogger(__name__)

CLOSE_SLOW_CONSUMER = 4008
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404

MAX_REF_LENGTH = 64  # a client message's "ref", when a string
MAX_SAFE_INTEGER = 2**53 - 1  # ... when a number: JavaScript's Number.MAX_SAFE_INTEGER


class ClientError(Exception):
    """A client message that cannot be carried out: answered with an ``error`` event."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra  # more fields for the event's data (e.g. retry_after)


class StreamConsumer(StreamTransport):
    """Base WebSocket consumer; one instance per connection (use ``as_asgi()``)."""

    client_message_types: tuple[str, ...] = ()  # handled by receive_<type>(message)
    # Of those, the types whose messages neither wait for the ones before them nor hold up the
    # ones after (a reaction waits for its batch to be stored): each runs in a task of its own,
    # at most ``max_concurrent`` at once per connection (the next waits for a free one).
    concurrent_message_types: tuple[str, ...] = ()
    max_concurrent = 32

    def __init__(self, scope: dict[str, Any], send: Callable[[dict[str, Any]], Awaitable[None]]):
        super().__init__(scope)
        self.user = scope.get("user")
        self.base_send = send
        self._raw = raw_writer(send)  # frames straight to the socket (uvicorn), else None
        self._closing: asyncio.Task[None] | None = None
        self._closed = False
        # Made by the first concurrent message (most viewers never send one).
        self._slots: asyncio.Semaphore | None = None
        self._handlers: set[asyncio.Task[None]] | None = None  # concurrent messages under way

    @property
    def route_kwargs(self) -> dict[str, Any]:
        return self.scope.get("url_route", {}).get("kwargs", {})

    # The connection ---------------------------------------------------------------------

    async def run(self, receive: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        try:
            if await self.open():
                while True:
                    message = await receive()
                    if message["type"] == "websocket.receive":
                        await self.on_frame(message.get("text"))
                    elif message["type"] == "websocket.disconnect":
                        break
        finally:
            await self.shut()

    async def open(self) -> bool:
        """Accept, join the topic and send the first frame; False if refused."""
        topic = await self.get_topic()
        code = CLOSE_NOT_FOUND if topic is None else None
        if topic is not None and not await self.authorize(topic):
            code = CLOSE_FORBIDDEN
        if code is None and not self.take_slot(self.scope, self.user):
            code = caps.CLOSE_TOO_MANY_STREAMS
        await self.base_send({"type": "websocket.accept"})
        if code is not None:
            await self.close(code)
            return False
        try:
            last_event_id = parse_last_event_id(self._query("last_event_id"))
            bad_last_event_id = False
        except ValueError:
            last_event_id, bad_last_event_id = None, True
        connection = Connection(
            topic,  # type: ignore[arg-type]
            transport="websocket",
            max_backlog=config().max_backlog,
            on_overflow=self._on_overflow,
            write_now=self._write_now,
            raw=self._raw,
        )
        first = await self.join_topic(connection, last_event_id)
        if bad_last_event_id:
            first.append(_error("invalid", "last_event_id must be a whole number >= 0."))
        await self.send_events(first)
        # No writer task waits while the connection is idle: the hub writes each frame at once,
        # and a task is started only when a write has to wait (see Connection.serve).
        connection.serve(self.send_events, config().keepalive_interval)
        return True

    def _write_now(self, batch: Batch) -> Awaitable[None] | None:
        """Send a frame from the hub's delivery through ``send``, without waking the writer
        (see Connection), when it cannot go straight to the socket (``self._raw``)."""
        try:
            return start(self.base_send({"type": "websocket.send", "text": batch.text}))
        except Exception:
            # The client is gone (the server refuses the send): the receive loop hears of the
            # disconnect and shuts; the hub must go on delivering to the others.
            logger.debug("realtime: a direct write failed", exc_info=True)
            return None

    def _on_overflow(self) -> None:
        self._closing = asyncio.get_running_loop().create_task(self._close_slow())

    async def _close_slow(self) -> None:
        # The connection has left the topic and stopped its writer (which may have been stuck
        # sending to the client that stalled).
        logger.info(
            "realtime: closing a slow consumer of %s", self.connection and self.connection.topic
        )
        await self.close(CLOSE_SLOW_CONSUMER)

    def reply(self, event: Event) -> None:
        """Send an event to this client only, in turn with the topic's events."""
        if self.connection is not None:
            self.connection.push(Batch([event]))

    def answer(self, message: dict[str, Any], event_type: str, data: dict[str, Any]) -> None:
        """Reply to one client message with an event carrying its ``ref`` (if it had a good one)."""
        ref = _ref(message)
        self.reply(make_event(event_type, data if ref is None else {**data, "ref": ref}))

    async def send_events(self, events: list[Event]) -> None:
        await self.base_send({"type": "websocket.send", "text": frame(events)})

    async def close(self, code: int) -> None:
        if not self._closed:
            self._closed = True
            await self.base_send({"type": "websocket.close", "code": code})

    async def shut(self) -> None:
        """Leave the topic and stop writing (idempotent)."""
        await self.leave_topic()

    # Client messages --------------------------------------------------------------------

    async def on_frame(self, text: str | None) -> None:
        """Handle one client frame (``text`` is None for a binary one), in order with the
        others unless its type is concurrent."""
        try:
            message = _decode(text)
        except ClientError as exc:
            self.reply(_error(exc.code, exc.message, exc.extra))
            return
        if isinstance(message, dict) and message.get("type") in self.concurrent_message_types:
            if self._slots is None or self._handlers is None:
                self._slots, self._handlers = asyncio.Semaphore(self.max_concurrent), set()
            await self._slots.acquire()
            task = asyncio.get_running_loop().create_task(self._carry_out(message))
            self._handlers.add(task)
            task.add_done_callback(self._handled)
        else:
            await self._carry_out(message)

    def _handled(self, task: asyncio.Task[None]) -> None:
        assert self._slots is not None
        assert self._handlers is not None
        self._handlers.discard(task)
        self._slots.release()

    async def _carry_out(self, message: Any) -> None:
        """Carry out one decoded message; anything wrong is answered with an ``error`` event,
        carrying the message's ``ref`` if it had a good one."""
        ref = _ref(message)
        try:
            await self.on_message(_checked(message))
        except ClientError as exc:
            self.reply(_error(exc.code, exc.message, exc.extra, ref=ref))
        except Exception:
            logger.exception("realtime: a client message failed")
            self.reply(_error("internal", "Something went wrong; try again.", ref=ref))

    async def on_message(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "ping":
            self.reply(make_event("pong", {}))
            return
        if kind not in self.client_message_types:
            raise ClientError("invalid", f"Unknown message type {kind!r}.")
        await getattr(self, f"receive_{kind}")(message)

    # Helpers ----------------------------------------------------------------------------

    def _query(self, name: str) -> str | None:
        values = parse_qs(self.scope.get("query_string", b"").decode("latin1")).get(name)
        return values[-1] if values else None


def _decode(text: str | None) -> Any:
    if text is None:
        raise ClientError("invalid", "Send JSON text frames.")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than json can read
        raise ClientError("invalid", "Not valid JSON.") from None


def _checked(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ClientError("invalid", 'Send a JSON object with a string "type".')
    return message


def _ref(message: Any) -> str | int | None:
    """The message's ``ref``, echoed in the error that answers it: a string of at most
    ``MAX_REF_LENGTH`` characters or an integer a JavaScript number holds exactly. Anything
    else is not echoed, so an error never carries more of the client's input than that (nor
    a lone surrogate from a ``\\ud800`` escape, which no frame could encode)."""
    ref = message.get("ref") if isinstance(message, dict) else None
    if isinstance(ref, str) and len(ref) <= MAX_REF_LENGTH:
        try:
            ref.encode()
        except UnicodeEncodeError:
            return None
        return ref
    if isinstance(ref, int) and not isinstance(ref, bool) and abs(ref) <= MAX_SAFE_INTEGER:
        return ref
    return None


def _error(
    code: str, message: str, extra: dict[str, Any] | None = None, *, ref: str | int | None = None
) -> Event:
    data = {"code": code, "message": message, **(extra or {})}
    if ref is not None:
        data["ref"] = ref
    return make_event("error", data)
