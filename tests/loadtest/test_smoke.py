"""The load tool end to end: a real server process, real viewers, a real driver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from tests.servers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def short_run(redis_url: str, out: Path, **options: Any) -> dict[str, Any]:
    """A 3-second run with a few viewers; its summary."""
    return short_run_report(redis_url, out, **options)["summary"]


def short_run_report(redis_url: str, out: Path, **options: Any) -> dict[str, Any]:
    """A 3-second run with a few viewers; its whole report."""
    defaults = {"duration": 3, "comments": 2, "users": 5, "connections": 4}
    call_command(
        "loadtest",
        port=free_port(2),
        redis_url=redis_url,
        out=str(out),
        no_migrate=True,
        **{**defaults, **options},
    )
    (saved,) = out.glob("*.json")
    return json.loads(saved.read_text())["runs"][0]


def test_a_short_run_delivers_every_comment_to_every_viewer(redis_url, tmp_path, capsys):
    summary = short_run(redis_url, tmp_path, viewers=20, sse_percent=25, workers=2, reactions=20)
    assert summary["comments_stored"] >= 5
    assert summary["deliveries_per_sec"] > 0
    assert (summary["lost"], summary["duplicated"]) == (0, 0)
    assert summary["converged"] == "20/20"
    assert summary["exact"] is True
    assert summary["latency_ms"]["p99"] is not None
    assert list(tmp_path.glob("*.png"))
    assert "20 viewers" in capsys.readouterr().out


def test_a_storm_brings_every_viewer_back_and_reports_the_memory_then(redis_url, tmp_path):
    summary = short_run(redis_url, tmp_path, viewers=20, workers=2, reactions=10, storm=True)
    assert summary["storm_ok"] == 20
    assert summary["exact"] is True
    assert 0 < summary["storm_rss_mb_back"] <= summary["storm_rss_mb_peak"]


def test_the_tutorial_style_baseline_delivers_too(redis_url, tmp_path):
    summary = short_run(
        redis_url,
        tmp_path,
        server="baseline",
        drive="page",  # reactions over its WebSocket, comments over REST
        viewers=10,
        sse_percent=0,
        workers=1,
        reactions=10,
    )
    assert summary["comments_stored"] >= 5
    assert summary["reactions_stored_per_sec"] > 0
    assert (summary["lost"], summary["duplicated"]) == (0, 0)
    assert summary["converged"] == "10/10"


def test_many_broadcasts_each_deliver_exactly_to_their_own_viewers(redis_url, tmp_path):
    run = short_run_report(
        redis_url,
        tmp_path,
        broadcasts=20,
        viewers=200,
        workers=2,
        servers=2,
        drive="ws",  # comments over each broadcast's WebSockets, reactions on the hottest
        comments=1,
        reactions=10,
        users=20,
        quiet=1,
    )
    summary, viewers = run["summary"], run["viewers"]
    assert sum(run["audiences"]) == 200
    assert min(run["audiences"]) >= 1
    assert run["stored"]["comments"] >= 20 * 2
    assert (viewers["broadcasts_exact"], viewers["broadcasts_watched"]) == (20, 20)
    assert viewers["inexact"] == {}
    assert (summary["lost"], summary["duplicated"]) == (0, 0)
    assert summary["converged"] == "200/200"
    # The drive's end waits until the servers have read every message sent: each comment
    # sent and not refused is stored.
    assert (summary["driver_undrained"], summary["driver_refused"]) == (0, {})
    assert run["stored"]["comments"] == sum(summary["answers"]["comment"].values())
    sizes = viewers["by_audience"]
    assert sum(size["broadcasts"] for size in sizes.values()) == 20
    assert sum(size["viewers"] for size in sizes.values()) == 200
    assert all(size["latency_ms"]["p99"] is not None for size in sizes.values())
    # The driver's senders reach every broadcast on both servers: each subscribes to all 20.
    assert all(channels >= 20 for channels in summary["redis_channels"])
    assert summary["redis_ops_per_sec"] > 0
    assert len(summary["quiet_server_cpu_share"]) == 2


@pytest.mark.regions
def test_two_regions_each_with_a_server_and_half_the_viewers(redis_url, tmp_path):
    summary = short_run(
        redis_url, tmp_path, regions=2, region_delay=0.05, servers=2, viewers=20, workers=2
    )
    assert (summary["lost"], summary["duplicated"]) == (0, 0)
    assert summary["converged"] == "20/20"
    # Each region's viewers saw events, and messages crossed both ways (the half of the
    # comments posted in us asks eu to number them; eu sends the events to us).
    for region in ("eu", "us"):
        assert summary[f"p50/p99 ms {region}"]["p99"] > 0
    assert summary["crossed_per_sec"]["eu->us"] > 0
    assert summary["crossed_per_sec"]["us->eu"] > 0
