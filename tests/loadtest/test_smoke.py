"""The load tool end to end: a real server process, real viewers, a real driver."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def short_run(redis_url: str, out: Path, **options: Any) -> dict[str, Any]:
    """A 3-second run with a few viewers; its summary."""
    call_command(
        "loadtest",
        duration=3,
        comments=2,
        users=5,
        connections=4,
        port=free_port(),
        redis_url=redis_url,
        out=str(out),
        no_migrate=True,
        **options,
    )
    (saved,) = out.glob("*.json")
    return json.loads(saved.read_text())["runs"][0]["summary"]


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
