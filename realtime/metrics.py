"""Prometheus metrics of the real-time platform, per server process (scrape each process)."""

from __future__ import annotations

import functools

from prometheus_client import Counter, Gauge, Histogram

CONNECTIONS = Gauge(
    "realtime_connections", "Open stream connections in this process.", ["transport"]
)


@functools.cache
def open_connections(transport: str) -> Gauge:
    """``CONNECTIONS`` of one transport, looked up once (``labels`` takes a lock each time:
    twice per connection)."""
    return CONNECTIONS.labels(transport)


EVENTS_PUBLISHED = Counter(
    "realtime_events_published_total", "Events this process published.", ["type"]
)
EVENTS_DELIVERED = Counter(
    "realtime_events_delivered_total", "Events this process handed to its connections."
)
FRAMES_SENT = Counter("realtime_frames_sent_total", "Frames written to connections.")
DELIVERY_LATENCY = Histogram(
    "realtime_delivery_latency_seconds",
    "From publish (the event's ts) to being written: once per event handed to this process's"
    " connections (when the last one had it), and per frame a busy connection sent later.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SLOW_CLIENTS_DROPPED = Counter(
    "realtime_slow_clients_dropped_total", "Connections closed for an unread backlog."
)
REDIS_ERRORS = Counter(
    "realtime_redis_errors_total", "Errors talking to Redis (publish, subscribe, history).", ["op"]
)
