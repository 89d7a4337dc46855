"""The Server-Sent Events transport: a plain ASGI endpoint streaming one topic.

It is routed ahead of Django's handler (``livevideo.asgi``), as the WebSocket consumer is: a
request runs on the event loop from start to end, with no middleware chain and no hand-over
to a thread (those hand-overs were most of the cost of an SSE connect under a reconnect
storm); only the reads its hooks make go to the database thread.

Each message's ``data:`` is one JSON array of events (the same frames as the WebSocket), with
``id:`` set to its last non-null id, so ``EventSource`` resumes with ``Last-Event-ID`` on its
own. The first message carries a ``retry:`` hint. Later messages are written as WebSocket
frames are (``Connection.serve``): by the hub, at once, while nothing waits; under uvicorn
straight to the socket (``realtime.rawsend``), under another server through ``send``. A writer
task exists only while a write has to wait (a full socket buffer). A comment line goes out
every ``KEEPALIVE_INTERVAL`` seconds with nothing to send. The request's own task waits for the
client to go away (``http.disconnect``), and then the stream leaves its topic; a client that
falls too far behind, or the server stopping (``realtime.shutdown``), ends the response from
that same task. So an open stream holds no task but the server's own.

What Django's middleware did for the view, the endpoint does with Django's own code: the Host
header is checked against ``ALLOWED_HOSTS`` (400), plain HTTP is redirected under
``SECURE_SSL_REDIRECT``, and every answer carries the headers of ``SecurityMiddleware`` and
``XFrameOptionsMiddleware``, and ``Vary: Cookie``. The user comes from the token or the session
cookie (``realtime.auth``), with no trip to the database for an anonymous viewer. GET streams;
HEAD gets the stream's headers only; any other method is a 405.

Subclasses provide the ``StreamHooks``: ``get_topic`` (None: 404), ``authorize`` (False: 403),
``get_hello_data``, ``stream_opened``/``stream_closed``; and may answer an exception raised
before the stream starts with ``exception_response`` (e.g. a 503 while the database is down).
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.core.exceptions import DisallowedHost, TooManyFieldsSent
from django.core.handlers.asgi import ASGIRequest
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils.cache import patch_vary_headers

from realtime import shutdown
from realtime.auth import user_from_headers
from realtime.connection import Connection
from realtime.protocol import Batch, Event, parse_last_event_id, sse_message
from realtime.rawsend import raw_body_writer
from realtime.runtime import config
from realtime.transport import StreamTransport, start

METHODS = ("GET", "HEAD")

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

disallowed_host_logger = logging.getLogger("django.security.DisallowedHost")  # as Django logs it
logger = logging.getLogger(__name__)


class EventStreamEndpoint(StreamTransport):
    """Base SSE endpoint; one instance per request (use ``as_asgi()``)."""

    def __init__(self, scope: dict[str, Any], send: Send) -> None:
        super().__init__(scope)
        self.user: Any = None
        self.send = send
        self._raw = raw_body_writer(send)  # messages straight to the socket (uvicorn), else None
        self._ending: bytes | None = None  # the response's last chunk, once the server ends it
        self._listener: asyncio.Task[Any] | None = None  # the task waiting for the client to go

    @property
    def route_kwargs(self) -> dict[str, Any]:
        return self.scope.get("url_route", {}).get("kwargs", {})

    def exception_response(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """The answer to ``exception``, raised before the stream started; None re-raises it
        (the server answers 500)."""
        return None

    async def run(self, receive: Receive) -> None:
        try:
            request = ASGIRequest(self.scope, io.BytesIO())
        except UnicodeDecodeError:  # a query string that is not UTF-8: as Django's handler
            await self._send_whole(HttpResponseBadRequest())
            return
        try:
            try:
                response, first = await self.respond(request)
            except Exception as exc:
                response, first = self.exception_response(request, exc), None
                if response is None:
                    raise
            add_django_headers(request, response)
            if isinstance(response, HttpResponse):  # a whole answer
                await self._send_whole(response)
                return
            await self.send(response_start(response))
            if first is None:  # HEAD: the stream's headers only
                await self.send({"type": "http.response.body", "body": b""})
                return
            await self._body(first)
            await self._stream(receive)
        finally:
            await self.leave_topic()

    async def respond(
        self, request: HttpRequest
    ) -> tuple[HttpResponse | StreamingHttpResponse, bytes | None]:
        """The answer: a whole one, or the stream's head and (for a GET) its first message,
        the stream having joined its topic."""
        refusal = _refusal(request)
        if refusal is not None:
            return refusal, None
        self.user = await user_from_headers(request.headers)
        topic = await self.get_topic()
        if topic is None:
            return _json(404, "Not found."), None
        if not await self.authorize(topic):
            return _json(403, "You may not watch this."), None
        if not self.take_slot(self.scope, self.user):
            return _too_many_streams(), None
        try:
            last_event_id = parse_last_event_id(
                request.headers.get("Last-Event-ID") or request.GET.get("last_event_id")
            )
        except ValueError:
            return _json(400, "last_event_id must be a whole number >= 0."), None
        response = StreamingHttpResponse((), content_type="text/event-stream")  # headers only
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # tell nginx not to buffer the stream
        if request.method == "HEAD":
            return response, None
        return response, await self._open(topic, last_event_id)

    async def _open(self, topic: str, last_event_id: int | None) -> bytes:
        """Join the topic; the first message (``hello`` and the replay)."""
        connection = Connection(
            topic,
            transport="sse",
            max_backlog=config().max_backlog,
            write_now=self._write_now,
            raw=self._raw,
            on_overflow=self._end_slow,
        )
        first = await self.join_topic(connection, last_event_id)
        return f"retry: {config().sse_retry_ms}\n".encode() + sse_message(first)

    async def _stream(self, receive: Receive) -> None:
        """Serve the stream until the client goes away; or until the server ends it (the
        client fell too far behind, or the server is stopping), and then end the response."""
        assert self.connection is not None
        self.connection.serve(self._send_events, config().keepalive_interval)
        shutdown.watch(self._end_stopping)
        try:
            if self._ending is None:  # (it may have overflowed already)
                self._listener = asyncio.current_task()
                await _until_disconnect(receive)
                return
        except asyncio.CancelledError:
            # Cancelled by ``_end`` (nothing else may have cancelled it too), or by the server.
            if self._ending is None or self._listener.uncancel():  # type: ignore[union-attr]
                raise
        finally:
            self._listener = None
            shutdown.forget(self._end_stopping)
        self.connection.close()  # nothing is written after the end
        await self.send({"type": "http.response.body", "body": self._ending})

    def _end(self, last: bytes) -> None:
        """End the response with ``last``: stop waiting for the client to go."""
        if self._ending is None:
            self._ending = last
            if self._listener is not None:
                self._listener.cancel()

    def _end_slow(self) -> None:
        """The client fell too far behind: the response ends; it reconnects and resumes."""
        self._end(b"")

    def _end_stopping(self) -> None:
        """The server is stopping: the response ends, so the client reconnects at once."""
        self._end(shutdown.GOODBYE)

    def _write_now(self, batch: Batch) -> Awaitable[None] | None:
        """Send a message from the hub's delivery or a keep-alive through ``send``, without a
        writer task (see ``Connection``), when it cannot go straight to the socket
        (``self._raw``)."""
        try:
            return start(self._body(batch.sse_message))
        except Exception:
            # The client is gone (the server refuses the send): the request hears of the
            # disconnect and ends; the hub must go on delivering to the others.
            logger.debug("realtime: a direct write failed", exc_info=True)
            return None

    async def _send_events(self, events: list[Event]) -> None:
        """The writer's send: what queued while a write waited, as one message."""
        await self._body(sse_message(events))

    async def _body(self, chunk: bytes) -> None:
        await self.send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def _send_whole(self, response: HttpResponse) -> None:
        response["Content-Length"] = str(len(response.content))  # as CommonMiddleware does
        await self.send(response_start(response))
        await self.send({"type": "http.response.body", "body": response.content})


def _refusal(request: HttpRequest) -> HttpResponse | None:
    """The answer to a request that cannot have the stream whoever asks (no database)."""
    try:
        request.get_host()  # as Django checks it: validate_host() against ALLOWED_HOSTS
    except DisallowedHost as exc:
        disallowed_host_logger.error(str(exc), extra={"status_code": 400, "request": request})
        return _json(400, "Invalid Host header.")
    redirect = SecurityMiddleware(_no_view).process_request(request)  # SECURE_SSL_REDIRECT
    if redirect is not None:
        return redirect
    try:
        request.GET  # noqa: B018 (parsed here, so too many parameters is a 400, not a 500)
    except TooManyFieldsSent:
        return _json(400, "Too many query parameters.")
    if request.method not in METHODS:
        response = _json(405, f'Method "{request.method}" not allowed.')
        response["Allow"] = ", ".join(METHODS)
        return response
    return None


def _too_many_streams() -> HttpResponse:
    response = _json(429, "Too many open streams for this user or address; close one first.")
    response["Retry-After"] = "10"
    return response


def _json(status: int, detail: str) -> HttpResponse:
    return JsonResponse({"detail": detail}, status=status)


def add_django_headers(request: HttpRequest, response: HttpResponseBase) -> None:
    """The headers Django's middleware gives every answer of the site (this endpoint is not
    behind it): its security middleware's (their own code), and ``Vary: Cookie``, as who
    may watch depends on the session."""
    XFrameOptionsMiddleware(_no_view).process_response(request, response)
    SecurityMiddleware(_no_view).process_response(request, response)
    patch_vary_headers(response, ("Cookie",))


def _no_view(request: HttpRequest) -> HttpResponse:
    """The middleware above are only asked for their ``process_*`` steps."""
    raise AssertionError("not called")


def response_start(response: HttpResponseBase) -> dict[str, Any]:
    return {
        "type": "http.response.start",
        "status": response.status_code,
        "headers": [(k.encode("ascii"), v.encode("latin1")) for k, v in response.items()],
    }


async def _until_disconnect(receive: Receive) -> None:
    """Return once the client has gone (any request body is read and dropped)."""
    while (await receive())["type"] != "http.disconnect":
        pass
