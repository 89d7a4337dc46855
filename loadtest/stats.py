"""The load tool's pure accounting: latency histograms, per-viewer ledgers, their sums, and
when a reading has settled.

Workers see up to a million events a second, so nothing here keeps one record per event: a
latency goes into a log-spaced histogram (2% wide buckets, sparse, cheap to merge and to send
between processes) and a viewer's stream is checked by its ids as they arrive.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter, _count_elements  # type: ignore[attr-defined]
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

FLOOR_MS = 0.05  # latencies below this share bucket 0
_STEP = math.log(1.02)
_SCALE = 1 / _STEP


def bucket_top(index: int) -> float:
    """The upper bound (ms) of a bucket: percentiles are reported on the safe side."""
    return FLOOR_MS * math.exp(index * _STEP)


@dataclass
class Histogram:
    """Latencies in milliseconds; ``counts`` maps bucket -> count."""

    counts: Counter[int] = field(default_factory=Counter)
    total: int = 0
    max_ms: float = 0.0

    def add(self, ms: float) -> None:
        self.add_all((ms,))

    def add_all(self, latencies: Sequence[float]) -> None:
        """Add each of ``latencies`` (a viewer's frame's: the worker's hot path, kept plain:
        the buckets in one comprehension, counted by ``Counter.update``'s C helper)."""
        log = math.log
        _count_elements(
            self.counts,
            [int(log(ms / FLOOR_MS) * _SCALE) + 1 if ms >= FLOOR_MS else 0 for ms in latencies],
        )
        self.total += len(latencies)
        top = max(latencies)
        if top > self.max_ms:
            self.max_ms = top

    def merge(self, other: Histogram) -> None:
        self.counts.update(other.counts)
        self.total += other.total
        self.max_ms = max(self.max_ms, other.max_ms)

    def percentile(self, p: float) -> float | None:
        """The ``p``-th percentile (0..100), or None when empty; never above the maximum."""
        if not self.total:
            return None
        rank = max(1, math.ceil(self.total * p / 100))
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return min(bucket_top(index), self.max_ms)
        return self.max_ms

    def summary(self) -> dict[str, float | None]:
        return {
            "p50": self.percentile(50),
            "p95": self.percentile(95),
            "p99": self.percentile(99),
            "max": self.max_ms if self.total else None,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "total": self.total, "max_ms": self.max_ms}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Histogram:
        counts = Counter({int(k): v for k, v in raw["counts"].items()})
        return cls(counts, raw["total"], raw["max_ms"])


class Reservoir:
    """A uniform sample of ``(seconds, latency_ms)`` points for the plot, at most ``size``.

    Once full, which point is taken next is drawn ahead (Li's Algorithm L: the same sample as a
    draw for every point). A worker adds every delivery, and a draw for each was a third of
    ``Viewer.frame``'s time per delivery (docs/performance-rounds.md, round 10)."""

    def __init__(self, size: int, rng: random.Random | None = None) -> None:
        self.size = size
        self.seen = 0
        self.points: list[tuple[float, float]] = []
        self._random = (rng or random.Random()).random
        self._weight = 1.0  # Algorithm L's W
        self._next = 0  # the number of the next point taken, once full

    def add(self, at: float, ms: float) -> None:
        self.add_all(at, (ms,))

    def add_all(self, at: float, latencies: Sequence[float]) -> None:
        """Add a point ``(at, ms)`` for each of ``latencies``."""
        first = self.seen  # latencies[i] is point number first + i + 1
        self.seen += len(latencies)
        points, size = self.points, self.size
        if len(points) < size:
            points.extend((at, ms) for ms in latencies[: size - len(points)])
            if len(points) < size:
                return
            self._next = size + self._skip()
        while self._next <= self.seen:
            points[int(self._random() * size)] = (at, latencies[self._next - first - 1])
            self._next += self._skip()

    def _skip(self) -> int:
        """How many points on the next one taken is (and W for the one after it)."""
        self._weight *= math.exp(math.log(1.0 - self._random()) / self.size)
        return int(math.log(1.0 - self._random()) / math.log1p(-self._weight)) + 1


@dataclass(slots=True)
class Ledger:
    """One viewer's stream, checked by event ids: the replayable events must arrive each
    exactly once and in order (ids are consecutive), comments are counted and summed."""

    last_id: int | None = None
    gaps: int = 0  # ids skipped over: events lost
    duplicates: int = 0  # ids at or below one already seen
    resets: int = 0
    comments: int = 0
    comment_sum: int = 0  # sum of comment pks: a cheap check that the *right* ones arrived

    def start(self, last_event_id: int) -> None:
        """The first ``hello``: the stream starts after ``last_event_id``."""
        if self.last_id is None:
            self.last_id = last_event_id

    def reset(self, last_event_id: int) -> None:
        """A ``reset``: what lies between is gone by design, and counted as such."""
        self.resets += 1
        self.last_id = last_event_id

    def event(self, event_id: int) -> bool:
        """Note a replayable event; False when it is a duplicate (ignore its content)."""
        if self.last_id is not None and event_id <= self.last_id:
            self.duplicates += 1
            return False
        # 0: the broadcast had no ids yet, and its first is not 1 but comes from the clock.
        if self.last_id:
            self.gaps += event_id - self.last_id - 1
        self.last_id = event_id
        return True

    def events(self, first_id: int, last_id: int, count: int) -> bool:
        """Note ``count`` replayable events whose ids rise from ``first_id`` to ``last_id`` (all
        above 0), as ``event`` for each would; False, noting nothing, when the first is not
        above the last seen (then some may be duplicates: note them one by one)."""
        if self.last_id is not None and first_id <= self.last_id:
            return False
        if self.last_id:
            self.gaps += first_id - self.last_id - 1
        self.gaps += last_id - first_id - (count - 1)
        self.last_id = last_id
        return True

    def comment(self, pk: int) -> None:
        self.comments += 1
        self.comment_sum += pk

    def comments_of(self, count: int, pk_sum: int) -> None:
        """``count`` comments whose pks add up to ``pk_sum``, as ``comment`` for each would."""
        self.comments += count
        self.comment_sum += pk_sum


class Tally:
    """What viewers received and how many are connected, counted as it happens: a worker's
    viewers share one, which it reports twice a second (summing every viewer's own took a
    share of the worker)."""

    __slots__ = ("connected", "deliveries", "frames")

    def __init__(self) -> None:
        self.connected = self.deliveries = self.frames = 0


@dataclass
class LedgerTotals:
    """The ledgers of many viewers against what the driver stored."""

    viewers: int = 0
    gaps: int = 0
    duplicates: int = 0
    resets: int = 0
    comments_lost: int = 0  # expected minus received, over viewers that got fewer
    comments_extra: int = 0  # received beyond expected: stored after it was read, or twice
    viewers_wrong_comments: int = 0  # count or pk sum differs from the driver's
    viewers_converged: int = 0  # last reactions totals equal the stored totals

    def add(self, other: LedgerTotals) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    @property
    def exact(self) -> bool:
        return not (self.gaps or self.duplicates or self.viewers_wrong_comments)


def check_ledgers(
    ledgers: list[Ledger],
    totals: list[dict[str, Any] | None],
    *,
    expected_comments: int,
    expected_sum: int,
    stored_totals: dict[str, Any],
) -> LedgerTotals:
    """Sum per-viewer ledgers; ``totals[i]`` is viewer i's last reactions data."""
    out = LedgerTotals(viewers=len(ledgers))
    for ledger, seen_totals in zip(ledgers, totals, strict=True):
        out.gaps += ledger.gaps
        out.duplicates += ledger.duplicates
        out.resets += ledger.resets
        out.comments_lost += max(0, expected_comments - ledger.comments)
        out.comments_extra += max(0, ledger.comments - expected_comments)
        if ledger.comments != expected_comments or ledger.comment_sum != expected_sum:
            out.viewers_wrong_comments += 1
        if seen_totals == stored_totals:
            out.viewers_converged += 1
    return out


def rate(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


SETTLE_SECONDS = 1.0  # > the snapshot interval: the last totals reach every viewer
MAX_SETTLE_SECONDS = 30.0  # a server still storing after this is reported as it stands


def settled(
    read: Callable[[], T],
    interval: float,
    limit: float,
    sleep: Callable[[float], None] = time.sleep,
    steady: int = 3,
) -> T:
    """``read()`` once ``steady`` reads ``interval`` apart agree (or after ``limit`` seconds):
    what the database holds when the server has stored everything it was sent, and the last
    change has had ``interval`` to reach the viewers. One quiet interval is not enough: a
    server that fell behind stores queued WebSocket taps in batches that can take longer."""
    sleep(interval)
    value, waited, agreeing = read(), interval, 1
    while waited < limit and agreeing < steady:
        sleep(interval)
        waited += interval
        again = read()
        agreeing = agreeing + 1 if again == value else 1
        value = again
    return value
