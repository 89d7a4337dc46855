"""What the two transports share: the hooks a product answers (``StreamHooks``) and the base
class (``StreamTransport``) that joins and leaves a topic around them. The WebSocket consumer
(``realtime.consumers``) and the SSE endpoint (``realtime.sse``) are its subclasses. ``start``
is how both write a frame from the hub's delivery without a task (their ``write_now``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

from asgiref.sync import markcoroutinefunction

from realtime import caps
from realtime.connection import Connection
from realtime.protocol import Event

logger = logging.getLogger(__name__)


class StreamHooks:
    """What both transports ask the application about one connection; the WebSocket
    consumer and the SSE endpoint are each a subclass (``StreamTransport``), and a product
    mixes in its answers."""

    user: Any  # the connection's user (AnonymousUser when nobody signed in)
    connection: Connection | None = None

    @property
    def route_kwargs(self) -> dict[str, Any]:
        """The URL's captured parameters."""
        raise NotImplementedError("subclasses of StreamHooks must provide route_kwargs")

    async def get_topic(self) -> str | None:
        """The topic this connection watches, or None when there is no such thing."""
        raise NotImplementedError("subclasses of StreamHooks must provide get_topic()")

    async def authorize(self, topic: str) -> bool:
        """Whether this connection's user may watch ``topic``."""
        return True

    async def get_hello_data(self) -> dict[str, Any]:
        """The ``hello`` event's data (``last_event_id`` is added)."""
        return {}

    async def stream_opened(self) -> None:
        """The stream is opening (``self.connection`` is set; hello is read next)."""

    async def stream_closed(self) -> None:
        """The stream is gone."""


class StreamTransport(StreamHooks):
    """Base of the two transports (the WebSocket consumer, the SSE endpoint): one instance per
    connection, made with the connection's ASGI scope and ``send``, then ``run``. Joining and
    leaving the topic, and the hooks around them, are the same for both."""

    def __init__(self, scope: dict[str, Any]) -> None:
        # Every attribute is set as the connection is made, in one order (subclasses set
        # theirs in their own __init__): CPython shares one table of attribute names among
        # instances that add them alike, and these two, once added only on joining, gave each
        # connection a whole dictionary of its own (docs/performance.md).
        self.scope = scope
        self.connection: Connection | None = None
        self._slot: caps.Slot | None = None  # this stream's place under the connection caps
        self._opened = False  # stream_opened was called: stream_closed is owed

    @classmethod
    def as_asgi(cls) -> Callable[..., Awaitable[None]]:
        """The ASGI application: a new instance for each connection. It hands back the
        instance's ``run`` instead of awaiting it: no coroutine of its own for the life of the
        connection (see ``realtime.routing``)."""

        @markcoroutinefunction
        def app(scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
            return cls(scope, send).run(receive)  # type: ignore[call-arg]

        app.consumer_class = cls  # type: ignore[attr-defined]  # as Channels' as_asgi() does
        return app

    async def run(self, receive: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        raise NotImplementedError("subclasses of StreamTransport must provide run()")

    async def join_topic(self, connection: Connection, last_event_id: int | None) -> list[Event]:
        """Make ``connection`` this stream's, join its topic and return the first batch
        (``Connection.open``); ``stream_opened`` runs first, so hello counts this viewer."""
        self.connection = connection
        self._opened = True
        await self._notify(self.stream_opened())
        return await connection.open(last_event_id, self.get_hello_data)

    def take_slot(self, scope: dict[str, Any], user: Any) -> bool:
        """Take this stream's place under the connection caps (``realtime.caps``); False when a
        cap is reached. ``leave_topic`` gives it back."""
        self._slot = caps.take(scope, user)
        return self._slot is not None

    async def leave_topic(self) -> None:
        """Leave the topic, give back the stream's slot, and run ``stream_closed`` if
        ``stream_opened`` ran (idempotent)."""
        if self.connection is not None:
            self.connection.close()
        if self._slot is not None:
            self._slot.release()
        if self._opened:
            self._opened = False
            await self._notify(self.stream_closed())

    @staticmethod
    async def _notify(hook: Awaitable[None]) -> None:
        """Run ``stream_opened``/``stream_closed``: a failure is logged, the stream goes on."""
        try:
            await hook
        except Exception:
            logger.exception("realtime: a stream hook failed; the stream goes on")


def start(coro: Awaitable[None]) -> Awaitable[None] | None:
    """Run ``coro`` now, in the caller's stack, up to its first wait: None when it finished
    without waiting (an ASGI server's send usually does), else an awaitable for the rest.

    This is what a task would do for its first step, without the task: no scheduling, no
    wake-up. Whoever awaits the rest stands in for the task from then on."""
    if not isinstance(coro, Coroutine):
        return coro  # some other awaitable: it is all "the rest"
    try:
        waiting_on = coro.send(None)
    except StopIteration:
        return None
    return _Rest(coro, waiting_on)


class _Rest:
    """The rest of a coroutine that ``start`` ran up to its first wait."""

    def __init__(self, coro: Coroutine[Any, Any, None], waiting_on: Any) -> None:
        self._coro = coro
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, None]:
        waiting_on = self._waiting_on
        while True:
            try:
                value = yield waiting_on  # to the awaiting task, which waits for it
            except BaseException as exc:  # cancelled, or the future failed
                step = functools.partial(self._coro.throw, exc)
            else:
                step = functools.partial(self._coro.send, value)
            try:
                waiting_on = step()
            except StopIteration:
                return
