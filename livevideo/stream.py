"""``GET /sse/broadcasts/<id>/``: a broadcast's stream as Server-Sent Events (404 JSON for an
unknown broadcast, 503 while the database is unreachable). The WebSocket twin is
``livevideo.consumers.BroadcastConsumer``."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from livevideo.consumers import BroadcastStream
from livevideo.middleware import database_unavailable
from realtime.sse import EventStreamEndpoint


class BroadcastEventStream(BroadcastStream, EventStreamEndpoint):
    """Watch a broadcast over SSE (resume with ``Last-Event-ID`` or ``?last_event_id=N``)."""

    def exception_response(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return database_unavailable(request, exception)
