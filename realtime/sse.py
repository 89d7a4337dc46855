"""The Server-Sent Events transport: a generic async view streaming one topic.

It runs on Django's own ASGI handler with an async ``StreamingHttpResponse``: each message's
``data:`` is one JSON array of events (the same frames as the WebSocket), with ``id:`` set to
its last non-null id, so ``EventSource`` resumes with ``Last-Event-ID`` on its own. The first
message carries a ``retry:`` hint. Under uvicorn the hub writes later messages straight to the
socket, as it does WebSocket frames (``realtime.rawsend``); Django's iteration of the response
then only carries what had to wait (a full socket buffer) and keep-alives. A comment line goes
out every ``KEEPALIVE_INTERVAL`` seconds with nothing to send. When the client goes away Django
cancels the response, and the stream leaves its topic.

Subclasses provide the ``StreamHooks``: ``get_topic`` (None: 404), ``authorize`` (False: 403),
``get_hello_data``, ``stream_opened``/``stream_closed``.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views import View

from realtime.auth import request_user
from realtime.conf import option
from realtime.connection import Connection, SlowConsumer, StreamHooks
from realtime.protocol import Batch, parse_last_event_id, sse_message
from realtime.rawsend import RawBodyWriter, raw_body_writer

KEEPALIVE_COMMENT = b": keepalive\n\n"


class EventStreamView(StreamHooks, View):
    request: HttpRequest

    @property
    def route_kwargs(self) -> dict[str, Any]:
        return self.kwargs

    async def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.user = await request_user(request)
        topic = await self.get_topic()
        if topic is None:
            return JsonResponse({"detail": "Not found."}, status=404)
        if not await self.authorize(topic):
            return JsonResponse({"detail": "You may not watch this."}, status=403)
        try:
            last_event_id = parse_last_event_id(
                request.headers.get("Last-Event-ID") or request.GET.get("last_event_id")
            )
        except ValueError:
            return JsonResponse(
                {"detail": "last_event_id must be a whole number >= 0."}, status=400
            )
        response = StreamingHttpResponse(
            self.stream(topic, last_event_id), content_type="text/event-stream"
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # tell nginx not to buffer the stream
        return response

    async def stream(self, topic: str, last_event_id: int | None) -> AsyncIterator[bytes]:
        raw = raw_body_writer()
        self.connection = connection = Connection(
            topic,
            transport="sse",
            max_backlog=option("MAX_BACKLOG"),
            write_now=None if raw is None else functools.partial(_write_now, raw),
        )
        opened = False
        try:
            opened = True
            await self.notify(self.stream_opened())  # first, so hello counts this viewer
            first = await connection.open(last_event_id, self.get_hello_data)
            yield f"retry: {option('SSE_RETRY_MS')}\n".encode() + sse_message(first)
            async for batch in connection.batches(option("KEEPALIVE_INTERVAL")):
                yield sse_message(batch) if batch else KEEPALIVE_COMMENT
        except SlowConsumer:
            return  # the stream ends; the client reconnects and resumes
        finally:
            connection.close()
            if opened:
                await self.notify(self.stream_closed())


def _write_now(raw: RawBodyWriter, batch: Batch) -> Awaitable[None] | None:
    """Write a batch's SSE message straight to the socket (under uvicorn), from the hub's
    delivery; when the buffer is full, what must be awaited to write it once it drains."""
    if raw.write(batch.sse_chunk):
        return None
    return raw.write_when_drained(batch.sse_chunk)
