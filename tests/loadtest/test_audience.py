"""Who watches what: the Zipf spread of viewers over broadcasts, the workers' shares of them,
and the audience-size buckets the report uses."""

from __future__ import annotations

import pytest

from loadtest.audience import bucket, layout, zipf_audiences


def test_the_full_scenario_spread_sums_to_the_viewers_hottest_first():
    audiences = zipf_audiences(20_000, 1_000, 1.25)
    assert sum(audiences) == 20_000
    assert len(audiences) == 1_000
    assert audiences == sorted(audiences, reverse=True)


def test_the_hottest_broadcast_gets_its_zipf_share():
    audiences = zipf_audiences(20_000, 1_000, 1.25)
    weights = [1 / rank**1.25 for rank in range(1, 1_001)]
    share = weights[0] / sum(weights)  # of the viewers beyond one each
    assert audiences[0] == pytest.approx(1 + 19_000 * share, abs=1)
    assert 4_500 <= audiences[0] <= 5_500  # "one with ~5,000"
    assert sorted(audiences)[500] < 10  # "most with a handful"


@pytest.mark.parametrize(("viewers", "broadcasts"), [(20, 20), (200, 20), (1_001, 1_000)])
def test_every_broadcast_has_a_viewer_when_there_are_enough(viewers, broadcasts):
    audiences = zipf_audiences(viewers, broadcasts, 2.0)
    assert min(audiences) >= 1
    assert sum(audiences) == viewers


def test_fewer_viewers_than_broadcasts_go_to_the_hottest():
    assert zipf_audiences(3, 10, 1.0) == [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert zipf_audiences(3, 10, 3.0) == [3, 0, 0, 0, 0, 0, 0, 0, 0, 0]


def test_exponent_zero_spreads_evenly_and_one_broadcast_gets_everyone():
    assert zipf_audiences(100, 4, 0.0) == [25, 25, 25, 25]
    assert zipf_audiences(10_000, 1, 1.25) == [10_000]


def test_nonsense_is_refused():
    with pytest.raises(ValueError):
        zipf_audiences(10, 0, 1.0)


def test_layout_gives_each_worker_an_even_run_of_viewers_in_broadcast_order():
    shares = layout([(7, 5), (8, 3), (9, 0), (10, 2)], 3)
    assert shares == [(0, [(7, 4)]), (4, [(7, 1), (8, 3)]), (8, [(10, 2)])]


def test_layout_of_one_broadcast_is_the_standard_split():
    assert layout([(1, 10)], 4) == [(0, [(1, 3)]), (3, [(1, 3)]), (6, [(1, 3)]), (9, [(1, 1)])]


@pytest.mark.parametrize(
    ("audience", "label"),
    [(0, "0"), (1, "1-9"), (9, "1-9"), (10, "10-99"), (999, "100-999"), (5_000, "1000-9999")],
)
def test_buckets_are_decades_of_audience(audience, label):
    assert bucket(audience) == label
