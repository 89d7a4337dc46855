"""Viewer counts across real OS processes sharing one Redis, and recovery after a crash."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from presence.backends.redis import RedisPresenceStore

pytestmark = pytest.mark.redis

TOPIC = "broadcast.1"
INTERVAL = 0.2
GRACE = 0.3
TTL = INTERVAL + GRACE
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def spawn(redis_url: str) -> Iterator[Callable[[int, int], subprocess.Popen[str]]]:
    """Start worker processes holding connections; every one is killed at the end."""
    procs: list[subprocess.Popen[str]] = []

    def start(first_uid: int, count: int) -> subprocess.Popen[str]:
        args = [redis_url, TOPIC, str(first_uid), str(count), str(INTERVAL), str(GRACE)]
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.presence.worker", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.communicate()


def wait_ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"


def test_count_is_exact_across_processes_and_recovers_after_a_kill(
    spawn: Callable[[int, int], subprocess.Popen[str]],
    redis_url: str,
    request: pytest.FixtureRequest,
) -> None:
    store = RedisPresenceStore(url=redis_url, ttl=TTL, grace=GRACE)
    request.addfinalizer(store.close)
    doomed, survivor = spawn(1, 30), spawn(101, 20)
    wait_ready(doomed)
    wait_ready(survivor)
    assert store.viewer_counts([TOPIC]) == {TOPIC: 50}

    time.sleep(3 * TTL)  # only heartbeats keep the connections counted this long
    assert store.viewer_counts([TOPIC]) == {TOPIC: 50}
    assert all(state.online for state in store.users_presence([1, 30, 101, 120]).values())

    doomed.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    while store.viewer_counts([TOPIC])[TOPIC] != 20 and time.monotonic() - killed_at < TTL + 1:
        time.sleep(0.02)

    assert store.viewer_counts([TOPIC]) == {TOPIC: 20}
    assert time.monotonic() - killed_at <= TTL + 0.25
    presence = store.users_presence([1, 30, 101, 120])
    assert [presence[uid].online for uid in (1, 30, 101, 120)] == [False, False, True, True]

    time.sleep(2 * TTL)  # the survivor keeps its viewers
    assert store.viewer_counts([TOPIC]) == {TOPIC: 20}
