"""``GET /sse/broadcasts/<id>/``: a broadcast's stream as Server-Sent Events (404 JSON for an
unknown broadcast). The WebSocket twin is ``livevideo.consumers.BroadcastConsumer``."""

from __future__ import annotations

from livevideo.consumers import BroadcastStream
from realtime.sse import EventStreamView


class BroadcastEventStream(BroadcastStream, EventStreamView):
    """Watch a broadcast over SSE (resume with ``Last-Event-ID`` or ``?last_event_id=N``)."""
