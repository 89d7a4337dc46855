"""A rolling restart behind the documented nginx, run by the load tool: both server processes
restarted in turn (each taken out of nginx and drained first) while comments and reactions are
posted, every viewer (WebSocket and SSE) coming back through nginx and resuming from its last
id, and the old nginx workers gone within worker_shutdown_timeout of the last reload."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from loadtest.proxy import RELOAD_TIMEOUT, shutdown_timeout
from tests.servers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

VIEWERS = 150


def test_every_viewer_gets_every_event_once_through_a_rolling_restart(nginx, redis_url, tmp_path):
    call_command(
        "loadtest",
        proxy=True,
        rolling_restart=True,
        servers=2,
        port=free_port(3),  # the two servers, then nginx
        viewers=VIEWERS,
        sse_percent=30,
        workers=2,
        drive="rest",
        reactions=10,
        comments=3,
        duration=10,
        users=10,
        connections=4,
        redis_url=redis_url,
        out=str(tmp_path),
        no_migrate=True,
    )
    (saved,) = tmp_path.glob("*.json")
    run = json.loads(saved.read_text())["runs"][0]
    summary, restart = run["summary"], run["rolling_restart"]
    port = run["config"]["port"]
    assert [step["port"] for step in restart["steps"]] == [port, port + 1]
    assert all(step["reload"] and step["drain"] for step in restart["steps"]), restart["steps"]
    # Streams held by old workers end with their process's restart or are closed by nginx
    # after worker_shutdown_timeout; none keeps an old worker for longer.
    assert restart["old_workers_gone_s"] <= shutdown_timeout() + RELOAD_TIMEOUT
    # Everyone was on the second process when it stopped: each came back at least once (and
    # again when nginx closed what its old workers held).
    assert summary["away_viewers"] >= VIEWERS, summary
    assert run["viewers"]["close_codes"].get("1012", 0) > 0
    assert summary["comments_stored"] >= 5, summary  # posted meanwhile, and delivered below
    assert (summary["lost"], summary["duplicated"]) == (0, 0), summary
    assert summary["viewers_wrong_comments"] == 0
    assert summary["converged"] == f"{VIEWERS}/{VIEWERS}"
    assert summary["viewer_count_right"] == f"{VIEWERS}/{VIEWERS}"
