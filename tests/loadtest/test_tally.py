"""The viewers' verdict: worker results merged over all, per broadcast and per audience size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from loadtest.stats import Histogram, LedgerTotals
from loadtest.tally import tally


def part(viewers: int, latencies: list[float], **faults: int) -> dict:
    """One broadcast's share of a worker's result."""
    histogram = Histogram()
    for ms in latencies:
        histogram.add(ms)
    ledgers = LedgerTotals(viewers=viewers, viewers_converged=viewers, **faults)
    return {"ledgers": asdict(ledgers), "histogram": histogram.to_dict()}


def result(
    broadcasts: dict[int, dict], window: Sequence[float] = (), away: Sequence[float] = ()
) -> dict:
    histogram = Histogram()
    for ms in window:
        histogram.add(ms)
    return {
        "broadcasts": broadcasts,
        "window": histogram.to_dict(),
        "away": list(away),
        "points": [],
        "close_codes": {},
        "reconnects": 0,
        "connect_failures": 0,
    }


AUDIENCES = {1: 1_200, 2: 50, 3: 3, 4: 2}


def test_latencies_are_reported_per_audience_size():
    # Broadcast 1 spans both workers; 3 and 4 share the 1-9 bucket.
    results = [
        result({1: part(600, [100.0] * 99 + [900.0]), 2: part(50, [20.0] * 10)}),
        result({1: part(600, [100.0] * 100), 3: part(3, [5.0]), 4: part(2, [7.0])}),
    ]
    verdict = tally(results, AUDIENCES)
    sizes = verdict["by_audience"]
    assert list(sizes) == ["1-9", "10-99", "1000-9999"]  # smallest first
    assert sizes["1000-9999"]["broadcasts"] == 1
    assert sizes["1000-9999"]["viewers"] == 1_200
    assert sizes["1000-9999"]["measured"] == 200
    assert sizes["1000-9999"]["latency_ms"]["p99"] < 110  # 1 slow of 200: above the 99th
    assert sizes["1000-9999"]["latency_ms"]["max"] == 900.0
    assert sizes["10-99"]["latency_ms"]["p50"] <= 20.0 * 1.02
    assert (sizes["1-9"]["broadcasts"], sizes["1-9"]["viewers"]) == (2, 5)
    assert sizes["1-9"]["latency_ms"]["max"] == 7.0
    assert verdict["latency_histogram"]["total"] == 212
    assert verdict["ledgers"]["viewers"] == 1_255
    assert (verdict["broadcasts_exact"], verdict["broadcasts_watched"]) == (4, 4)
    assert verdict["exact"] is True


def test_a_fault_on_one_worker_makes_its_broadcast_inexact_and_names_it():
    results = [
        result({1: part(600, [10.0]), 2: part(50, [10.0])}),
        result({1: part(600, [10.0], gaps=2), 3: part(3, [5.0]), 4: part(2, [5.0])}),
    ]
    verdict = tally(results, AUDIENCES)
    assert verdict["broadcasts_exact"] == 3
    assert list(verdict["inexact"]) == [1]
    assert verdict["inexact"][1]["gaps"] == 2
    assert verdict["ledgers"]["gaps"] == 2
    assert verdict["exact"] is False
    assert verdict["by_audience"]["1000-9999"]["exact"] == 0
    assert verdict["by_audience"]["1-9"]["exact"] == 2


def test_one_broadcast_reports_as_the_standard_scenario_always_has():
    verdict = tally([result({7: part(10, [10.0])}), result({7: part(10, [12.0])})], {7: 20})
    assert "by_audience" not in verdict
    assert verdict["ledgers"]["viewers"] == 20
    assert set(verdict) == {
        "latency_ms",
        "latency_histogram",
        "ledgers",
        "exact",
        "reconnects",
        "connect_failures",
        "close_codes",
        "points",
    }


def test_a_window_and_the_time_viewers_were_away_are_reported_apart():
    # A rolling restart: latencies meanwhile are in the worker's window, and count overall too.
    results = [
        result({1: part(2, [10.0] * 10)}, window=[500.0] * 4, away=[0.6, 1.2]),
        result({1: part(2, [10.0] * 10)}, away=[0.8]),
    ]
    verdict = tally(results, {1: 4})
    assert verdict["window_latency_ms"]["max"] == 500.0
    assert verdict["latency_histogram"]["total"] == 24
    assert verdict["away_s"] == {"count": 3, "p50": 0.8, "p99": 1.2, "max": 1.2}


def test_a_run_without_a_window_reports_neither():
    verdict = tally([result({1: part(2, [10.0])})], {1: 2})
    assert "window_latency_ms" not in verdict
    assert "away_s" not in verdict
