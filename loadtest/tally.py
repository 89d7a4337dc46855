"""The viewers' verdict: the workers' results merged, over all, per broadcast and per
audience size (``audience.bucket``)."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from loadtest.audience import bucket
from loadtest.stats import Histogram, LedgerTotals

INEXACT_LISTED = 20  # broadcasts named in the report when some were not exact


def exact(ledgers: LedgerTotals) -> bool:
    """Nothing lost or duplicated, every comment right, every viewer's totals converged."""
    return ledgers.exact and ledgers.viewers_converged == ledgers.viewers


def tally(results: list[dict[str, Any]], audiences: dict[int, int]) -> dict[str, Any]:
    """Merge the workers' ``result``s; ``audiences`` maps each broadcast to its viewers."""
    histogram = Histogram()
    window = Histogram()  # the latencies of the runner's window (a rolling restart)
    away: list[float] = []
    ledgers = LedgerTotals()
    per_broadcast: dict[int, LedgerTotals] = {}
    by_size: dict[str, Histogram] = {}
    points: list[tuple[float, float]] = []
    close_codes: dict[str, int] = {}
    for result in results:
        for broadcast, part in result["broadcasts"].items():
            per_broadcast.setdefault(broadcast, LedgerTotals()).add(LedgerTotals(**part["ledgers"]))
            latencies = Histogram.from_dict(part["histogram"])
            histogram.merge(latencies)
            by_size.setdefault(bucket(audiences[broadcast]), Histogram()).merge(latencies)
        window.merge(Histogram.from_dict(result["window"]))
        away.extend(result["away"])
        points.extend(result["points"])
        for code, n in result["close_codes"].items():
            close_codes[str(code)] = close_codes.get(str(code), 0) + n
    for one in per_broadcast.values():
        ledgers.add(one)
    histogram.merge(window)
    out: dict[str, Any] = {
        "latency_ms": histogram.summary(),
        "latency_histogram": histogram.to_dict(),
        "ledgers": asdict(ledgers),
        "exact": ledgers.exact,
        "reconnects": sum(r["reconnects"] for r in results),
        "connect_failures": sum(r["connect_failures"] for r in results),
        "close_codes": close_codes,
        "points": points,
    }
    if window.total:
        out["window_latency_ms"] = window.summary()
    if away:
        out["away_s"] = _spread(away)
    if len(audiences) > 1:
        out["by_audience"] = _by_audience(per_broadcast, by_size, audiences)
        inexact = [b for b, one in sorted(per_broadcast.items()) if not exact(one)]
        out["broadcasts_exact"] = len(per_broadcast) - len(inexact)
        out["broadcasts_watched"] = len(per_broadcast)
        out["inexact"] = {b: asdict(per_broadcast[b]) for b in inexact[:INEXACT_LISTED]}
    return out


def _spread(values: list[float]) -> dict[str, float]:
    """How many, and the median, 99th percentile and largest of ``values``, exactly."""
    ordered = sorted(values)
    rank = lambda p: ordered[max(1, math.ceil(len(ordered) * p / 100)) - 1]  # noqa: E731
    return {"count": len(ordered), "p50": rank(50), "p99": rank(99), "max": ordered[-1]}


def _by_audience(
    per_broadcast: dict[int, LedgerTotals],
    by_size: dict[str, Histogram],
    audiences: dict[int, int],
) -> dict[str, dict[str, Any]]:
    """Per audience-size bucket, smallest first: its broadcasts and viewers, how many of its
    broadcasts were exact, the deliveries measured and their latency percentiles."""
    out: dict[str, dict[str, Any]] = {}
    for label in sorted(by_size, key=lambda label: int(label.split("-")[0])):
        members = [b for b in per_broadcast if bucket(audiences[b]) == label]
        latencies = by_size[label]
        out[label] = {
            "broadcasts": len(members),
            "viewers": sum(audiences[b] for b in members),
            "exact": sum(1 for b in members if exact(per_broadcast[b])),
            "measured": latencies.total,  # deliveries during the drive
            "latency_ms": latencies.summary(),
        }
    return out
