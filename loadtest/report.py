"""A run's figures: the summary (one dict), a table, one line, a JSON file and a PNG plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from loadtest.stats import Histogram, bucket_top


def summarize(report: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of a run (what the table, the line and the docs show)."""
    config, drive = report["config"], report["drive"]
    sent = drive["driver"]
    statuses = sent["statuses"]
    out: dict[str, Any] = {
        "label": config["label"] or config["server"],
        "server": config["server"],
        "servers": len(report["server_cpu"]),
        "viewers": config["viewers"],
        "seconds": round(drive["seconds"], 1),
        "reactions_stored_per_sec": round(report["stored"]["reactions"] / drive["seconds"], 1),
        "reactions_sent": sum(statuses["reaction"].values()),
        "comments_stored": report["stored"]["comments"],
        "driver_errors": sent["errors"],
        "driver_refused": sent.get("refused", {}),
        "driver_max_lag_s": round(sent["max_lag"], 3),
        # WebSocket drives: how long after the drive the server had read all it was sent
        "driver_drain_s": round(sent.get("drain_s", 0.0), 2),
        "driver_undrained": sent.get("undrained", 0),
        # REST writes: what the server answered, and how long each answer took
        "answers": statuses,
        "answer_ms": {
            what: {p: latency[p] and round(latency[p], 1) for p in ("p50", "p99")}
            for what, latency in sent.get("latency", {}).items()
            if latency["p50"] is not None
        },
        "server_cpu_share": [c and round(c["share"], 2) for c in report["server_cpu"]],
        "client_cpu_share": round(report.get("client_cpu_share", 0.0), 2),
    }
    # None when a server was not measured (a running one) or restarted during the drive.
    cpu_seconds = (
        None if None in report["server_cpu"] else sum(c["seconds"] for c in report["server_cpu"])
    )
    if config["ingest"]:
        out["server_us_per_reaction"] = _per(cpu_seconds, report["stored"]["reactions"])
        return out
    viewers = report["viewers"]
    ledgers = viewers["ledgers"]
    connect = report["connect"]
    idle = [
        b and a and (a - b)
        for a, b in zip(report["rss_connected_kb"], report["rss_idle_kb"], strict=True)
    ]
    out.update(
        {
            "deliveries_per_sec": round(drive["deliveries_per_sec"]),
            "frames_per_sec": round(drive["frames_per_sec"]),
            "latency_ms": {k: v and round(v, 1) for k, v in viewers["latency_ms"].items()},
            "lost": ledgers["gaps"] + ledgers["comments_lost"],
            "duplicated": ledgers["duplicates"],
            # Comments viewers had beyond the stored count they were checked against: with
            # every id seen once, the servers stored them after that count was read.
            "comments_beyond_stored": ledgers["comments_extra"],
            "stored_still_growing": report.get("stored_at_end", report["stored"])
            != report["stored"],
            "viewers_wrong_comments": ledgers["viewers_wrong_comments"],
            "converged": f"{ledgers['viewers_converged']}/{ledgers['viewers']}",
            "exact": viewers["exact"] and ledgers["viewers_converged"] == ledgers["viewers"],
            "connect_per_sec": round(connect["per_sec"]),
            "connect_seconds": round(connect["seconds"], 1),
            "reconnects": viewers["reconnects"],
            "server_us_per_delivery": _per(cpu_seconds, drive["deliveries"]),
            "rss_kb_per_connection": (
                round(sum(i for i in idle if i) / config["viewers"], 1) if any(idle) else None
            ),
            "rss_mb": [r and round(r / 1024) for r in report["rss_connected_kb"]],
        }
    )
    if drive["storm"]:
        out["storm_seconds"] = round(drive["storm"]["seconds"], 2)
        out["storm_ok"] = drive["storm"]["ok"]
        # how long until half of them, and nine in ten, were back (whole seconds, rounded up)
        for share in (50, 90):
            out[f"storm_{share}pct_s"] = back_within(drive["storm"].get("back", {}), share)
        # the servers' RSS in total, MB, at the moment all were back and at its highest
        # from the drop until then
        for moment, rss in drive["storm"].get("rss_kb", {}).items():
            out[f"storm_rss_mb_{moment}"] = None if None in rss else round(sum(rss) / 1024)
    if "proxy_cpu" in report:
        out["proxy_cpu_share"] = round(report["proxy_cpu"]["share"], 2)
        out["proxy_us_per_delivery"] = _per(report["proxy_cpu"]["seconds"], drive["deliveries"])
    if "rolling_restart" in report:
        out.update(_rolling_restart(report))
    if "by_audience" in viewers:
        out.update(_many_broadcasts(report))
    if "latency_by_region" in viewers:  # loadtest/regions.py
        for region, latency in viewers["latency_by_region"].items():
            out[f"p50/p99 ms {region}"] = {k: round(latency[k], 1) for k in ("p50", "p99")}
        out["crossed_per_sec"] = report["crossed_per_sec"]
    return out


def _many_broadcasts(report: dict[str, Any]) -> dict[str, Any]:
    """The figures of a run with many broadcasts: per audience size, Redis, subscriptions
    and the quiet phase's cost."""
    viewers = report["viewers"]
    out: dict[str, Any] = {
        "broadcasts": len(report["audiences"]),
        "broadcasts_exact": f"{viewers['broadcasts_exact']}/{viewers['broadcasts_watched']}",
    }
    for label, size in viewers["by_audience"].items():
        out[f"broadcasts {label}"] = size["broadcasts"]
        latency = size["latency_ms"]
        out[f"p50/p99 ms {label}"] = {
            k: latency[k] and round(latency[k], 1) for k in ("p50", "p99")
        }
    out["redis_ops_per_sec"] = round(report["redis"]["per_sec"])
    out["redis_channels"] = [s and s["channels"] for s in report["subscriptions"]]
    if "quiet" in report:
        quiet = report["quiet"]
        out["quiet_server_cpu_share"] = [c and round(c["share"], 3) for c in quiet["server_cpu"]]
        out["quiet_redis_ops_per_sec"] = round(quiet["redis"]["per_sec"])
    return out


def _rolling_restart(report: dict[str, Any]) -> dict[str, Any]:
    """How long the restart took, how long its viewers were away, the latency meanwhile and
    the viewer count during and after it."""
    restart, viewers = report["rolling_restart"], report["viewers"]
    away = viewers.get("away_s", {"count": 0, "p50": None, "p99": None, "max": None})
    window = viewers.get("window_latency_ms", {})
    statuses = report["drive"]["driver"]["statuses"]
    return {
        "restart_seconds": round(restart["seconds"], 1),
        # each server's steps: out of nginx and drained + stopped + started + ready (or, with
        # no drain, stopped + started)
        "restart_steps_s": [
            "+".join(
                f"{step[k]:.1f}" if k != "drain" else f"{step['reload'] + step['drain']:.1f}"
                for k in ("drain", "stop", "start", "ready")
                if k in step
            )
            for step in restart["steps"]
        ],
        "restart_drained": restart.get("drain", False),
        "new_connections_while_draining": sum(
            step.get("new_connections", 0) for step in restart["steps"]
        ),
        "old_workers_gone_s": restart.get("old_workers_gone_s")
        and round(restart["old_workers_gone_s"], 1),
        "writes_5xx": sum(
            n for answers in statuses.values() for code, n in answers.items() if code[0] == "5"
        ),
        "away_viewers": away["count"],
        "away_s p50/p99/max": {k: away[k] and round(away[k], 2) for k in ("p50", "p99", "max")},
        "restart_p50/p99_ms": {k: window.get(k) and round(window[k], 1) for k in ("p50", "p99")},
        "viewer_count_during": restart["count_during"],
        "viewer_count_right": f"{restart['count_last']}/{restart['count_expected']}",
        "viewer_count_right_after_s": restart["count_right_after_s"],
    }


def _per(cpu_seconds: float | None, count: float) -> float | None:
    return round(cpu_seconds / count * 1e6, 1) if count and cpu_seconds is not None else None


def back_within(back: dict[Any, int], share: float) -> int | None:
    """The whole seconds within which ``share`` percent of a storm's viewers were back, from
    how many came back in each second (keys are seconds, as numbers or, read from JSON, text)."""
    needed, seen = sum(back.values()) * share / 100, 0
    for second, count in sorted((int(k), v) for k, v in back.items()):
        seen += count
        if seen >= needed:
            return second + 1
    return None


def one_line(summary: dict[str, Any]) -> str:
    """The run as one line of figures."""
    if "deliveries_per_sec" not in summary:
        return (
            f"{summary['label']}: ingest {summary['reactions_stored_per_sec']:,} reactions/s "
            f"stored ({summary['reactions_sent']:,} sent), cpu {summary['server_cpu_share']}, "
            f"{summary['server_us_per_reaction']} us/reaction"
        )
    lat = summary["latency_ms"]
    return (
        f"{summary['label']}: {summary['viewers']:,} viewers x{summary['servers']} server(s), "
        f"{summary['deliveries_per_sec']:,} deliveries/s, {summary['frames_per_sec']:,} frames/s, "
        f"p50/p95/p99/max {lat['p50']}/{lat['p95']}/{lat['p99']}/{lat['max']} ms, "
        f"lost {summary['lost']}, dup {summary['duplicated']}, "
        f"beyond stored {summary['comments_beyond_stored']}, converged {summary['converged']}, "
        f"connect {summary['connect_per_sec']:,}/s, cpu {summary['server_cpu_share']} "
        f"(load generator {summary['client_cpu_share']}), "
        f"{summary['server_us_per_delivery']} us/delivery, "
        f"{summary['rss_kb_per_connection']} KB/conn"
        + (f", storm {summary['storm_seconds']} s" if "storm_seconds" in summary else "")
        + (
            f", nginx cpu {summary['proxy_cpu_share']} ({summary['proxy_us_per_delivery']} "
            "us/delivery)"
            if "proxy_cpu_share" in summary
            else ""
        )
        + (_restart_line(summary) if "restart_seconds" in summary else "")
        + (_many_line(summary) if "broadcasts" in summary else "")
    )


def _restart_line(summary: dict[str, Any]) -> str:
    away = summary["away_s p50/p99/max"]
    restart = summary["restart_p50/p99_ms"]
    return (
        f"; rolling restart {summary['restart_seconds']} s ("
        + ("drain+stop+start+ready " if summary["restart_drained"] else "no drain, stop+start ")
        + f"{summary['restart_steps_s']}, old nginx workers gone "
        f"{summary['old_workers_gone_s']} s after), writes answered 5xx "
        f"{summary['writes_5xx']}, driver errors {summary['driver_errors']}, "
        f"{summary['away_viewers']:,} viewers away "
        f"p50/p99/max {away['p50']}/{away['p99']}/{away['max']} s, p50/p99 meanwhile "
        f"{restart['p50']}/{restart['p99']} ms, viewer count {summary['viewer_count_right']} "
        f"(during {summary['viewer_count_during']}) right "
        f"{summary['viewer_count_right_after_s']} s after"
    )


def _many_line(summary: dict[str, Any]) -> str:
    p99 = {
        key.rsplit(" ", 1)[1]: v["p99"] for key, v in summary.items() if key.startswith("p50/p99")
    }
    line = (
        f"; {summary['broadcasts']:,} broadcasts ({summary['broadcasts_exact']} exact), "
        f"p99 ms by audience {p99}, redis {summary['redis_ops_per_sec']:,} ops/s, "
        f"channels {summary['redis_channels']}"
    )
    if "quiet_server_cpu_share" in summary:
        line += (
            f", quiet: cpu {summary['quiet_server_cpu_share']}, "
            f"redis {summary['quiet_redis_ops_per_sec']:,} ops/s"
        )
    return line


def table(summaries: list[dict[str, Any]]) -> str:
    """The runs side by side: one column per run, one row per figure."""
    rows = [key for key in summaries[0] if key != "label"]
    labels = [s["label"] for s in summaries]
    cells = [_cell(s.get(row)) for s in summaries for row in rows]
    width = max(12, *(len(text) for text in labels + cells))
    lines = [f"{'':<26}" + "".join(f"{label:>{width + 2}}" for label in labels)]
    for row in rows:
        cells = "".join(f"{_cell(s.get(row)):>{width + 2}}" for s in summaries)
        lines.append(f"{row:<26}{cells}")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return "/".join(str(v) for v in value.values())
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def write_json(path: Path, reports: list[dict[str, Any]], machine: dict[str, Any]) -> None:
    """Every figure of every run (the plot's sample points left out)."""
    runs = []
    for report in reports:
        slim = {**report, "summary": summarize(report)}
        if "viewers" in report:
            slim["viewers"] = {k: v for k, v in report["viewers"].items() if k != "points"}
        runs.append(slim)
    path.write_text(json.dumps({"machine": machine, "runs": runs}, indent=1, default=str))


def plot(path: Path, reports: list[dict[str, Any]]) -> None:
    """Publish-to-receive latency over the drive (sampled points) and its distribution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (over_time, cdf) = plt.subplots(1, 2, figsize=(13, 5))
    for report in reports:
        if "viewers" not in report:
            continue
        label = summarize(report)["label"]
        points = sorted(report["viewers"]["points"])
        if points:
            t0 = points[0][0]
            over_time.scatter(
                [t - t0 for t, _ in points], [ms for _, ms in points], s=2, alpha=0.3, label=label
            )
        histogram = Histogram.from_dict(report["viewers"]["latency_histogram"])
        total = histogram.total or 1
        xs, ys, seen = [], [], 0
        for index in sorted(histogram.counts):
            seen += histogram.counts[index]
            xs.append(bucket_top(index))
            ys.append(100 * seen / total)
        cdf.plot(xs, ys, label=label)
    over_time.set(xlabel="seconds into the drive", ylabel="latency (ms)", yscale="log")
    over_time.set_title("publish-to-receive latency (sampled)")
    cdf.set(xlabel="latency (ms)", ylabel="% of deliveries at or below", xscale="log")
    cdf.axvline(250, color="red", linestyle="--", linewidth=0.8)
    cdf.set_title("distribution (red: 250 ms target)")
    for axes in (over_time, cdf):
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(loc="best", markerscale=4)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
