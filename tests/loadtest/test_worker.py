"""The load tool's viewer worker: connecting its viewers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from loadtest import worker
from loadtest.worker import Worker, WorkerConfig


class FlakySeat:
    """A seat whose first connects fail as ``failures`` says, then succeed."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.connects = 0

    async def connect(self) -> None:
        self.connects += 1
        if self.failures:
            raise self.failures.pop(0)

    def drop(self) -> None:
        pass


@pytest.fixture
def viewers_worker(monkeypatch: Any) -> Worker:
    monkeypatch.setattr(worker, "FIRST_RETRY", 0.001)
    config = WorkerConfig(host="127.0.0.1", ports=[1], assignments=[], first=0, sse_percent=0)
    return Worker(config, pipe=None)  # type: ignore[arg-type]


async def test_a_hello_wait_cancelled_by_a_drop_is_a_failed_attempt_not_a_dead_worker(
    viewers_worker,
):
    seats = [FlakySeat(asyncio.CancelledError()), FlakySeat(ConnectionError("closed")), FlakySeat()]
    outcome = await viewers_worker.connect_all(seats, attempts=3)  # type: ignore[arg-type]
    assert outcome["ok"] == 3
    assert [seat.connects for seat in seats] == [2, 2, 1]
    assert outcome["back"] == {0: 3}  # all three within its first second


async def test_stopping_the_worker_still_stops_its_connects(viewers_worker):
    stuck = FlakySeat()
    stuck.connect = asyncio.Event().wait  # type: ignore[method-assign]
    connecting = asyncio.create_task(viewers_worker.connect_all([stuck]))  # type: ignore[list-item]
    await asyncio.sleep(0.01)
    connecting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await connecting


def test_progress_counts_what_every_viewer_received_and_who_is_connected():
    config = WorkerConfig(
        host="127.0.0.1", ports=[1], assignments=[(1, 2), (2, 1)], first=0, sse_percent=0
    )
    worker_of = Worker(config, pipe=None)  # type: ignore[arg-type]
    viewers = [seat.viewer for seat in worker_of.seats]
    hello = {"broadcast": {"reactions": {}}, "last_event_id": 0}
    for viewer in viewers:
        viewer.frame(json.dumps([{"type": "hello", "id": None, "ts": 1, "data": hello}]))
    comments = [{"type": "comment.created", "id": i, "ts": 1, "data": {"id": i}} for i in (1, 2)]
    viewers[0].frame(json.dumps(comments))
    viewers[1].frame(json.dumps(comments[:1]))
    viewers[1].frame(json.dumps(comments))  # the first again: one delivery
    viewers[2].connecting()  # a reconnect begins: not connected until its hello
    viewers[2].connecting()  # and fails, and is tried again
    progress = worker_of.progress()
    assert (progress["connected"], progress["deliveries"], progress["frames"]) == (2, 4, 6)
