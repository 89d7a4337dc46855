"""The load tool's accounting: histograms, ledgers and their sums."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from loadtest.stats import _SCALE, FLOOR_MS, Histogram, Ledger, Reservoir, check_ledgers, settled

TOTALS = {"totals": {"like": 3}, "total": 3}


def histogram_of(values: list[float]) -> Histogram:
    histogram = Histogram()
    for value in values:
        histogram.add(value)
    return histogram


class TestHistogram:
    def test_percentiles_are_within_two_percent_on_the_safe_side(self):
        histogram = histogram_of([float(ms) for ms in range(1, 1001)])
        for p, exact in ((50, 500), (95, 950), (99, 990)):
            assert exact <= histogram.percentile(p) <= exact * 1.02

    def test_a_percentile_never_exceeds_the_maximum(self):
        histogram = histogram_of([10.0, 10.0, 10.0])
        assert histogram.percentile(99) == 10.0
        assert histogram.summary()["max"] == 10.0

    def test_empty_has_no_percentiles(self):
        assert Histogram().summary() == {"p50": None, "p95": None, "p99": None, "max": None}

    def test_tiny_and_negative_latencies_land_in_the_first_bucket(self):
        histogram = histogram_of([-3.0, 0.0, 0.01])
        assert histogram.total == 3
        assert histogram.percentile(100) <= 0.05

    def test_merge_equals_one_histogram_of_everything(self):
        a, b = histogram_of([1.0, 2.0, 300.0]), histogram_of([5.0, 7.0])
        a.merge(b)
        whole = histogram_of([1.0, 2.0, 300.0, 5.0, 7.0])
        assert (a.counts, a.total, a.max_ms) == (whole.counts, whole.total, whole.max_ms)

    def test_round_trips_through_a_dict_with_string_keys(self):
        histogram = histogram_of([1.0, 50.0, 50.0])
        raw = histogram.to_dict()
        raw["counts"] = {str(k): v for k, v in raw["counts"].items()}  # as JSON gives it back
        again = Histogram.from_dict(raw)
        assert again.summary() == histogram.summary()

    def test_latencies_added_together_count_as_added_one_by_one(self):
        values = [-1.0, 0.0, 0.04, 0.05, 3.0, 250.0, 250.0, 9_000.0]
        together = Histogram()
        together.add_all(values[:3])
        together.add_all(values[3:])
        one_by_one = histogram_of(values)
        assert (together.counts, together.total, together.max_ms) == (
            one_by_one.counts,
            one_by_one.total,
            one_by_one.max_ms,
        )

    def test_buckets_are_the_log_spaced_ones(self):
        # The bucket of each latency as it was written first, one at a time.
        rng = random.Random(3)
        values = [rng.lognormvariate(2, 2) for _ in range(5_000)]
        values += [FLOOR_MS, math.nextafter(FLOOR_MS, 0), 1.0, 1.02, 1e6, 1e9, -0.0]
        expected = Counter(
            int(math.log(ms / FLOOR_MS) * _SCALE) + 1 if ms >= FLOOR_MS else 0 for ms in values
        )
        histogram = Histogram()
        histogram.add_all(values)
        assert histogram.counts == expected


def test_reservoir_keeps_a_bounded_uniform_sample():
    reservoir = Reservoir(100, random.Random(1))
    for i in range(10_000):
        reservoir.add(float(i), 1.0)
    times = [t for t, _ in reservoir.points]
    assert len(times) == 100
    assert min(times) < 2_000
    assert max(times) > 8_000


class TestLedger:
    def test_consecutive_ids_are_exact(self):
        ledger = Ledger()
        ledger.start(10)
        assert all(ledger.event(i) for i in (11, 12, 13))
        assert (ledger.gaps, ledger.duplicates, ledger.last_id) == (0, 0, 13)

    def test_a_skipped_id_counts_as_lost(self):
        ledger = Ledger()
        ledger.start(10)
        ledger.event(11)
        ledger.event(14)
        assert ledger.gaps == 2

    def test_a_broadcasts_first_id_after_a_hello_of_0_is_not_a_gap(self):
        # A broadcast's first id comes from the clock (realtime.backends.base.counter_start).
        ledger = Ledger()
        ledger.start(0)
        ledger.event(1_795_773_332_876_711)
        ledger.event(1_795_773_332_876_713)
        assert (ledger.gaps, ledger.last_id) == (1, 1_795_773_332_876_713)

    def test_a_repeated_or_older_id_is_a_duplicate_and_is_ignored(self):
        ledger = Ledger()
        ledger.start(0)
        ledger.event(1)
        ledger.event(2)
        assert ledger.event(2) is False
        assert ledger.event(1) is False
        assert (ledger.duplicates, ledger.last_id) == (2, 2)

    def test_a_later_hello_does_not_move_the_start(self):
        ledger = Ledger()
        ledger.start(5)
        ledger.event(6)
        ledger.start(9)  # a reconnect's hello: the replay continues from 6
        ledger.event(7)
        assert (ledger.gaps, ledger.last_id) == (0, 7)

    def test_a_reset_is_counted_and_restarts_after_its_id(self):
        ledger = Ledger()
        ledger.start(0)
        ledger.reset(50)
        ledger.event(51)
        assert (ledger.resets, ledger.gaps) == (1, 0)


def viewer(comments: list[int]) -> Ledger:
    ledger = Ledger()
    ledger.start(0)
    for event_id, pk in enumerate(comments, start=1):
        ledger.event(event_id)
        ledger.comment(pk)
    return ledger


class TestCheckLedgers:
    def check(self, ledgers, totals):
        return check_ledgers(
            ledgers, totals, expected_comments=3, expected_sum=6, stored_totals=TOTALS
        )

    def test_every_viewer_with_every_comment_and_the_stored_totals_is_exact(self):
        out = self.check([viewer([1, 2, 3]), viewer([1, 2, 3])], [TOTALS, TOTALS])
        assert out.exact
        assert (out.viewers, out.viewers_converged, out.comments_lost) == (2, 2, 0)

    def test_a_viewer_missing_a_comment_is_counted(self):
        out = self.check([viewer([1, 2, 3]), viewer([1, 3])], [TOTALS, TOTALS])
        assert not out.exact
        assert (out.comments_lost, out.viewers_wrong_comments) == (1, 1)

    def test_the_right_count_of_the_wrong_comments_is_caught_by_the_sum(self):
        out = self.check([viewer([1, 2, 4])], [TOTALS])
        assert (out.comments_lost, out.viewers_wrong_comments) == (0, 1)

    def test_an_extra_comment_is_counted(self):
        out = self.check([viewer([1, 2, 3, 3])], [TOTALS])
        assert out.comments_extra == 1

    @pytest.mark.parametrize("seen", [None, {"totals": {"like": 2}, "total": 2}])
    def test_a_viewer_whose_totals_differ_has_not_converged(self, seen):
        out = self.check([viewer([1, 2, 3])], [seen])
        assert out.viewers_converged == 0


def test_the_stored_figures_are_read_once_they_stop_changing():
    reads = iter([5, 9, 12, 12, 12, 99])
    slept: list[float] = []
    assert settled(lambda: next(reads), 1.0, 30.0, sleep=slept.append) == 12
    assert slept == [1.0] * 5


def test_one_quiet_interval_is_not_taken_for_the_end():
    reads = iter([5, 12, 12, 15, 15, 15, 99])
    assert settled(lambda: next(reads), 1.0, 30.0, sleep=lambda _: None) == 15


def test_a_server_that_never_settles_is_read_as_it_stands_at_the_limit():
    reads = iter(range(100))
    slept: list[float] = []
    assert settled(lambda: next(reads), 1.0, 3.0, sleep=slept.append) == 2
    assert sum(slept) == 3.0


def test_a_reservoir_fed_whole_frames_takes_every_point_with_the_same_chance():
    # 200 reservoirs of 50 points over 10,000 latencies (0..9,999, in frames of 1 to 12):
    # each tenth of them should hold a tenth of the 10,000 points taken (std ~30).
    rng = random.Random(7)
    tenths = [0] * 10
    for _ in range(200):
        reservoir = Reservoir(50, rng)
        latencies = [float(ms) for ms in range(10_000)]
        while latencies:
            size = rng.randint(1, 12)
            reservoir.add_all(1.0, latencies[:size])
            del latencies[:size]
        assert reservoir.seen == 10_000
        assert len(reservoir.points) == 50
        for _, ms in reservoir.points:
            tenths[int(ms) // 1_000] += 1
    assert all(850 < count < 1_150 for count in tenths), tenths
