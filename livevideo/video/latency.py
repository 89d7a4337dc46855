"""How far behind the camera the audience is: viewers' players report their latency (the
picture's wall-clock time against now) every few seconds while live; the studio shows the
average over the last ``WINDOW`` seconds.

Counted in Django's cache (Redis when ``REDIS_URL`` is set, so every process adds to the same
sums) in ``BUCKET``-second buckets that expire by themselves: nothing to clean up.
"""

from __future__ import annotations

import time

from django.core.cache import cache

from livevideo import shapes
from livevideo.errors import InvalidInput, WrongStatus
from livevideo.models import Broadcast, BroadcastStatus

BUCKET = 10
WINDOW = 30
MAX_LATENCY_MS = 120_000


def _keys(broadcast_id: int, bucket: int) -> tuple[str, str]:
    return f"latency:{broadcast_id}:{bucket}:n", f"latency:{broadcast_id}:{bucket}:sum"


def _incr(key: str, by: int) -> None:
    if not cache.add(key, by, timeout=WINDOW + BUCKET):
        try:
            cache.incr(key, by)
        except ValueError:  # expired between the two calls
            cache.add(key, by, timeout=WINDOW + BUCKET)


def latency_report(*, broadcast: Broadcast, latency_ms: int) -> None:
    """One viewer's latency now."""
    if broadcast.status != BroadcastStatus.LIVE:
        raise WrongStatus("Latency is reported only while the broadcast is live.")
    if not 0 <= latency_ms <= MAX_LATENCY_MS:
        raise InvalidInput(f"Between 0 and {MAX_LATENCY_MS} ms.", field="latency_ms")
    count_key, sum_key = _keys(broadcast.pk, int(time.time()) // BUCKET)
    _incr(count_key, 1)
    _incr(sum_key, latency_ms)


def audience_latency(*, broadcast_id: int) -> shapes.AudienceLatency:
    """``{average_ms, reports}`` over the last ``WINDOW`` seconds (``average_ms`` null when
    no viewer reported)."""
    now = int(time.time()) // BUCKET
    keys = [
        key
        for bucket in range(now - WINDOW // BUCKET, now + 1)
        for key in _keys(broadcast_id, bucket)
    ]
    values = cache.get_many(keys)
    reports = sum(values.get(key, 0) for key in keys[0::2])
    total = sum(values.get(key, 0) for key in keys[1::2])
    return {"average_ms": round(total / reports) if reports else None, "reports": reports}
