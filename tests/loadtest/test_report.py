"""The load tool's report: summary figures, the line, the table, the JSON and the plot."""

from __future__ import annotations

import json

import pytest

from loadtest import report
from loadtest.stats import Histogram, LedgerTotals


def run_report(*, gaps: int = 0, converged: int = 1000, storm: bool = False) -> dict:
    histogram = Histogram()
    for ms in (5.0, 10.0, 20.0, 400.0):
        histogram.add(ms)
    ledgers = LedgerTotals(viewers=1000, gaps=gaps, viewers_converged=converged)
    return {
        "config": {"label": "", "server": "uvicorn", "viewers": 1000, "ingest": False},
        "broadcast": 1,
        "rss_idle_kb": [100_000],
        "rss_connected_kb": [120_000],
        "connect": {"seconds": 2.0, "ok": 1000, "per_sec": 500.0},
        "drive": {
            "seconds": 10.0,
            "deliveries": 200_000,
            "frames": 50_000,
            "deliveries_per_sec": 20_000.0,
            "frames_per_sec": 5_000.0,
            "storm": {
                "seconds": 3.5,
                "ok": 1000,
                "back": {"0": 400, "1": 450, "3": 150},  # connected in each second, from JSON
                "rss_kb": {"peak": [150_000], "back": [130_000]},
            }
            if storm
            else None,
            "driver": {
                "statuses": {"reaction": {"202": 1000}, "comment": {"201": 50}},
                "comments": 50,
                "comment_sum": 1275,
                "errors": 0,
                "max_lag": 0.01,
            },
        },
        "server_cpu": [{"seconds": 5.0, "share": 0.5}],
        "stored": {"reactions": 1000, "comments": 50, "comment_sum": 1275},
        "viewers": {
            "latency_ms": histogram.summary(),
            "latency_histogram": histogram.to_dict(),
            "ledgers": ledgers.__dict__,
            "exact": ledgers.exact,
            "reconnects": 0,
            "points": [(1000.0 + i / 10, float(i)) for i in range(50)],
        },
    }


def test_summary_has_the_headline_figures():
    summary = report.summarize(run_report())
    assert summary["deliveries_per_sec"] == 20_000
    assert summary["reactions_stored_per_sec"] == 100.0
    assert summary["server_us_per_delivery"] == 25.0  # 5 CPU s / 200,000 deliveries
    assert summary["rss_kb_per_connection"] == 20.0  # (120,000 - 100,000) KB / 1,000
    assert summary["converged"] == "1000/1000"
    assert summary["exact"] is True
    assert summary["latency_ms"]["max"] == 400.0


@pytest.mark.parametrize(("gaps", "converged"), [(3, 1000), (0, 999)])
def test_a_loss_or_a_viewer_not_converged_is_not_exact(gaps, converged):
    summary = report.summarize(run_report(gaps=gaps, converged=converged))
    assert summary["exact"] is False
    assert summary["lost"] == gaps


def test_comments_stored_after_the_check_are_no_duplicates():
    # Round 6's many-broadcasts run: the servers stored a backlog of WebSocket comments after
    # the stored count was read, the viewers received them (each id once), and the report
    # called every one a duplicate.
    late = run_report()
    late["viewers"]["ledgers"].update(comments_extra=2000, viewers_wrong_comments=1000)
    late["viewers"]["exact"] = False
    late["stored_at_end"] = {"reactions": 1000, "comments": 52, "comment_sum": 2000}
    summary = report.summarize(late)
    assert (summary["duplicated"], summary["comments_beyond_stored"]) == (0, 2000)
    assert summary["stored_still_growing"] is True
    assert summary["exact"] is False
    assert "beyond stored 2000" in report.one_line(summary)


def test_a_run_whose_stored_figures_held_still_says_so():
    on_time = run_report()
    on_time["stored_at_end"] = dict(on_time["stored"])
    summary = report.summarize(on_time)
    assert summary["stored_still_growing"] is False
    assert (summary["duplicated"], summary["comments_beyond_stored"]) == (0, 0)


def test_one_line_carries_the_figures():
    line = report.one_line(report.summarize(run_report(storm=True)))
    assert "\n" not in line
    for part in (
        "1,000 viewers",
        "20,000 deliveries/s",
        "lost 0",
        "converged 1000/1000",
        "storm 3.5 s",
    ):
        assert part in line


def test_a_storm_reports_the_servers_memory_when_all_are_back_and_at_its_peak():
    summary = report.summarize(run_report(storm=True))
    assert (summary["storm_rss_mb_back"], summary["storm_rss_mb_peak"]) == (127, 146)


def test_a_storm_reports_when_half_and_nine_in_ten_were_back():
    summary = report.summarize(run_report(storm=True))
    assert (summary["storm_50pct_s"], summary["storm_90pct_s"]) == (2, 4)


def test_the_table_has_a_column_per_run():
    a = report.summarize(run_report())
    b = {**report.summarize(run_report()), "label": "baseline"}
    lines = report.table([a, b]).splitlines()
    assert "uvicorn" in lines[0]
    assert "baseline" in lines[0]
    assert any(
        line.startswith("deliveries_per_sec") and line.count("20,000") == 2 for line in lines
    )


def test_json_and_plot_are_written(tmp_path):
    reports = [run_report()]
    report.write_json(tmp_path / "run.json", reports, {"nproc": 2})
    saved = json.loads((tmp_path / "run.json").read_text())
    assert saved["machine"] == {"nproc": 2}
    assert saved["runs"][0]["summary"]["deliveries_per_sec"] == 20_000
    assert "points" not in saved["runs"][0]["viewers"]
    report.plot(tmp_path / "run.png", reports)
    assert (tmp_path / "run.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_ingest_run_reports_stored_reactions_and_their_cost():
    ingest = run_report()
    ingest["config"]["ingest"] = True
    del ingest["viewers"], ingest["connect"]
    summary = report.summarize(ingest)
    assert summary["server_us_per_reaction"] == 5000.0  # 5 CPU s / 1,000 stored
    assert "ingest 100.0 reactions/s stored (1,000 sent)" in report.one_line(summary)


def test_rest_writes_report_their_answers_and_answer_times():
    run = run_report()
    answers = Histogram()
    for ms in (3.0, 4.0, 90.0):
        answers.add(ms)
    run["drive"]["driver"]["latency"] = {
        "reaction": answers.summary(),
        "comment": Histogram().summary(),
    }
    summary = report.summarize(run)
    assert summary["answers"] == {"reaction": {"202": 1000}, "comment": {"201": 50}}
    assert summary["answer_ms"].keys() == {"reaction"}  # no comment was answered
    assert summary["answer_ms"]["reaction"]["p99"] >= 90.0


def many_broadcasts_report() -> dict:
    """A run over four broadcasts of 1,200, 50, 3 and 2 viewers, with a quiet phase."""
    run = run_report()
    run["audiences"] = [1_200, 50, 3, 2]
    latency = {"p50": 10.04, "p95": 30.0, "p99": 40.0, "max": 50.0}
    run["viewers"].update(
        broadcasts_exact=3,
        broadcasts_watched=4,
        by_audience={
            "1-9": {
                "broadcasts": 2,
                "viewers": 5,
                "exact": 2,
                "measured": 9,
                "latency_ms": latency,
            },
            "1000-9999": {
                "broadcasts": 1,
                "viewers": 1_200,
                "exact": 0,
                "measured": 900,
                "latency_ms": {**latency, "p99": 240.0},
            },
        },
    )
    run["redis"] = {"per_sec": 1234.4, "busiest_per_sec": {"publish": 1000.0}}
    run["subscriptions"] = [{"connections": 3, "channels": 4, "patterns": 0}, None]
    run["server_cpu"].append(None)
    run["quiet"] = {
        "seconds": 10.0,
        "server_cpu": [{"seconds": 0.1, "share": 0.01}, None],
        "redis": {"per_sec": 5.2, "busiest_per_sec": {}},
    }
    return run


def test_many_broadcasts_report_latency_per_audience_size_redis_and_the_quiet_phase():
    summary = report.summarize(many_broadcasts_report())
    assert summary["broadcasts"] == 4
    assert summary["broadcasts_exact"] == "3/4"
    assert summary["broadcasts 1-9"] == 2
    assert summary["p50/p99 ms 1-9"] == {"p50": 10.0, "p99": 40.0}
    assert summary["p50/p99 ms 1000-9999"] == {"p50": 10.0, "p99": 240.0}
    assert summary["redis_ops_per_sec"] == 1234
    assert summary["redis_channels"] == [4, None]
    assert summary["quiet_server_cpu_share"] == [0.01, None]
    assert summary["quiet_redis_ops_per_sec"] == 5
    line = report.one_line(summary)
    assert "4 broadcasts (3/4 exact)" in line
    assert "p99 ms by audience {'1-9': 40.0, '1000-9999': 240.0}" in line
    assert "redis 1,234 ops/s" in line
    assert "quiet: cpu [0.01, None]" in line
    assert "p50/p99 ms 1000-9999" in report.table([summary])


def test_one_broadcast_summary_has_no_many_broadcast_figures():
    summary = report.summarize(run_report())
    assert not [key for key in summary if "broadcasts" in key or key.startswith("p50/p99")]
    assert "redis" not in report.one_line(summary)
