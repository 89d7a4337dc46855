"""The replay timeline: a broadcast's comments and reactions by broadcast time.

Broadcast time is milliseconds since the replay's start: the first accepted publish (when the
recording starts), else the moment the broadcast went live. Removed comments are not in it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count
from django.db.models.functions import TruncSecond

from livevideo import selectors, shapes
from livevideo.models import Broadcast, Comment, Reaction

MAX_RANGE_MS = 3_600_000  # one hour of broadcast time per request
MAX_COMMENTS = 2000
MAX_OFFSET_MS = 10**12  # about 31 years: no broadcast is longer, and the dates stay valid


def timeline_origin(broadcast: Broadcast) -> datetime | None:
    return broadcast.video_started_at or broadcast.started_at


def _offset_ms(origin: datetime, moment: datetime) -> int:
    return int((moment - origin) / timedelta(milliseconds=1))


def broadcast_timeline(*, broadcast: Broadcast, from_ms: int, to_ms: int) -> shapes.Timeline:
    """Comments and per-second reaction counts with ``from_ms <= offset < to_ms``.

    At most ``MAX_COMMENTS`` comments: when there are more, ``next_from_ms`` says where the
    next request starts (the range is cut there, reactions too), else it is null.
    """
    origin = timeline_origin(broadcast)
    empty = {"origin": None, "from_ms": from_ms, "to_ms": to_ms, "next_from_ms": None}
    if origin is None:
        return {**empty, "comments": [], "reactions": []}
    start = origin + timedelta(milliseconds=from_ms)
    end = origin + timedelta(milliseconds=to_ms)
    comments = list(
        Comment.objects.filter(
            broadcast=broadcast, is_removed=False, created_at__gte=start, created_at__lt=end
        )
        .select_related("author")
        .order_by("created_at", "id")[: MAX_COMMENTS + 1]
    )
    next_from_ms = None
    if len(comments) > MAX_COMMENTS:
        # Cut at a whole millisecond, so the next request starts with what was left out.
        next_from_ms = _offset_ms(origin, comments[MAX_COMMENTS].created_at)
        end = origin + timedelta(milliseconds=next_from_ms)
        comments = [c for c in comments if c.created_at < end]
    per_second: dict[int, dict[str, int]] = {}
    rows = (
        Reaction.objects.filter(broadcast=broadcast, created_at__gte=start, created_at__lt=end)
        .annotate(second=TruncSecond("created_at"))
        .values("second", "kind")
        .annotate(n=Count("id"))
        .order_by("second")
    )
    for row in rows:
        offset = max(from_ms, _offset_ms(origin, row["second"]))
        per_second.setdefault(offset, {})[row["kind"]] = row["n"]
    return {
        "origin": selectors.iso(origin),
        "from_ms": from_ms,
        "to_ms": next_from_ms if next_from_ms is not None else to_ms,
        "next_from_ms": next_from_ms,
        "comments": [
            {"offset_ms": _offset_ms(origin, c.created_at), "comment": selectors.comment_data(c)}
            for c in comments
        ],
        "reactions": [
            {"offset_ms": offset, "counts": counts} for offset, counts in sorted(per_second.items())
        ],
    }
