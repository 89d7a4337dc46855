"""The load tool end to end: a real server process, real viewers, a real driver."""

from __future__ import annotations

import json
import socket

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_short_run_delivers_every_comment_to_every_viewer(redis_url, tmp_path, capsys):
    call_command(
        "loadtest",
        viewers=20,
        sse_percent=25,
        workers=2,
        reactions=20,
        comments=2,
        duration=3,
        users=5,
        connections=4,
        port=free_port(),
        redis_url=redis_url,
        out=str(tmp_path),
        no_migrate=True,
    )
    (saved,) = tmp_path.glob("*.json")
    summary = json.loads(saved.read_text())["runs"][0]["summary"]
    assert summary["comments_stored"] >= 5
    assert summary["deliveries_per_sec"] > 0
    assert (summary["lost"], summary["duplicated"]) == (0, 0)
    assert summary["converged"] == "20/20"
    assert summary["exact"] is True
    assert summary["latency_ms"]["p99"] is not None
    assert list(tmp_path.glob("*.png"))
    assert "20 viewers" in capsys.readouterr().out


def test_the_tutorial_style_baseline_delivers_too(redis_url, tmp_path):
    call_command(
        "loadtest",
        server="baseline",
        drive="page",  # reactions over its WebSocket, comments over REST
        viewers=10,
        sse_percent=0,
        workers=1,
        reactions=10,
        comments=2,
        duration=3,
        users=5,
        connections=4,
        port=free_port(),
        redis_url=redis_url,
        out=str(tmp_path),
        no_migrate=True,
    )
    (saved,) = tmp_path.glob("*.json")
    summary = json.loads(saved.read_text())["runs"][0]["summary"]
    assert summary["comments_stored"] >= 5
    assert summary["reactions_stored_per_sec"] > 0
    assert (summary["lost"], summary["duplicated"]) == (0, 0)
    assert summary["converged"] == "10/10"
