"""One server process of a deployment killed (SIGKILL) under its viewers: they reconnect to
another process with their last id and catch up with no gap and no repeat, and the viewer count
drops the dead process's connections within the heartbeat interval plus the grace period."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.faults.clients import WAIT, SSEViewer, Viewer, WSViewer, call, post_comment
from tests.faults.conftest import GRACE, HEARTBEAT, Scene
from tests.realtime.streamtools import consecutive
from tests.servers import AppServer

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

# Slack on top of heartbeat + grace for a busy machine (a heartbeat may run late).
SLACK = 4.0


async def comment(server: AppServer, scene: Scene, text: str) -> None:
    status, body = await asyncio.to_thread(
        post_comment, server.url, scene.broadcast_id, scene.token, text
    )
    assert status == 201, body


async def viewer_count(server: AppServer, scene: Scene) -> int:
    status, body, _ = await asyncio.to_thread(
        call, "GET", f"{server.url}/api/broadcasts/{scene.broadcast_id}/viewers/"
    )
    assert status == 200, body
    return body["count"]


async def count_settles(server: AppServer, scene: Scene, expected: int, within: float) -> None:
    """Wait until the viewer count reads ``expected``; fail if it does not ``within`` seconds."""
    deadline = time.monotonic() + within
    while (count := await viewer_count(server, scene)) != expected:
        if time.monotonic() > deadline:
            pytest.fail(f"the viewer count stayed {count}, not {expected}, for {within}s")
        await asyncio.sleep(0.1)


async def test_viewers_of_a_killed_process_resume_on_another_with_no_gap(
    redis_url: str, scene: Scene, start_server
):
    a = await asyncio.to_thread(start_server, redis_url)
    b = await asyncio.to_thread(start_server, redis_url)
    transports = (WSViewer, WSViewer, SSEViewer)
    # Three anonymous viewers: three addresses (one address would count once).
    sources = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
    on_a: list[Viewer] = [
        await t.open(a.url, scene.broadcast_id, source=source)
        for t, source in zip(transports, sources, strict=True)
    ]
    for viewer in on_a:
        await viewer.next_of("hello")
    await count_settles(b, scene, 3, WAIT)

    for text in ("one", "two"):
        await comment(a, scene, text)
    for viewer in on_a:
        await viewer.comment("two")

    a.kill()
    # The dead process's connections lapse, though nobody closed them.
    await count_settles(b, scene, 0, HEARTBEAT + GRACE + SLACK)
    for text in ("three", "four"):
        await comment(b, scene, text)

    on_b: list[Viewer] = []
    try:
        for transport, old, source in zip(transports, on_a, sources, strict=True):
            await old.close()
            new = await transport.open(
                b.url, scene.broadcast_id, last_event_id=old.ids()[-1], source=source
            )
            on_b.append(new)
            await new.next_of("hello")
        await comment(b, scene, "five")

        for old, new in zip(on_a, on_b, strict=True):
            await new.comment("five")
            assert "reset" not in [e["type"] for e in new.events]
            ids = old.ids() + new.ids()
            assert ids == consecutive(ids[0], 5), "a gap or a repeat"
            every = [e["data"]["text"] for e in old.events + new.events if e["id"] is not None]
            assert every == ["one", "two", "three", "four", "five"]

        await count_settles(b, scene, 3, WAIT)
        await asyncio.sleep(2 * (HEARTBEAT + GRACE))  # past any lapse: B's heartbeats hold
        assert await viewer_count(b, scene) == 3
    finally:
        for viewer in on_b:
            await viewer.close()

    # And once they have gone, nobody is left counted.
    await count_settles(b, scene, 0, HEARTBEAT + GRACE + SLACK)
