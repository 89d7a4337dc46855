"""Redis restarted under a live broadcast (its data lost: no persistence), with viewers
watching over WebSocket and SSE. While it is down the site still answers and comments are still
taken; once it is back, real-time delivery resumes by itself, and what was missed is either
replayed or announced with ``reset``, never silently skipped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from websockets.exceptions import ConnectionClosed

from loadtest.servers import PrivateRedis, http_get, wait_until
from tests.faults.clients import (
    WAIT,
    Event,
    SSEViewer,
    Viewer,
    WSViewer,
    call,
    post_comment,
    recoverable_ids,
)
from tests.faults.conftest import Scene
from tests.realtime.streamtools import consecutive
from tests.servers import AppServer

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

# A request while Redis is down must answer well within this (the store timeouts are ~1 s).
BOUNDED = 5.0


@dataclass
class Live:
    """A server on a private Redis, and two viewers that have seen comment ``before`` (id
    ``before_id``)."""

    redis: PrivateRedis
    server: AppServer
    scene: Scene
    ws: WSViewer
    sse: SSEViewer
    before_id: int = 0

    async def post(self, text: str) -> int:
        status, _ = await asyncio.to_thread(
            post_comment, self.server.url, self.scene.broadcast_id, self.scene.token, text
        )
        return status

    async def get(self, path: str) -> tuple[int, object, float]:
        return await asyncio.to_thread(call, "GET", f"{self.server.url}{path}")

    async def restart_redis_losing(self, text: str) -> None:
        """Stop Redis, comment ``text`` while it is down, start it again (empty)."""
        self.redis.stop()
        assert await self.post(text) == 201, "comments are stored while Redis is down"
        self.redis.start()
        ready = await asyncio.to_thread(
            wait_until, lambda: http_get(f"{self.server.url}/readyz")[0] == 200, timeout=WAIT
        )
        assert ready, "the server must see Redis again without a restart"


@pytest.fixture
async def live(private_redis: PrivateRedis, scene: Scene, start_server) -> AsyncIterator[Live]:
    server = await asyncio.to_thread(start_server, private_redis.url)
    ws = await WSViewer.open(server.url, scene.broadcast_id)
    sse = await SSEViewer.open(server.url, scene.broadcast_id)
    live = Live(private_redis, server, scene, ws, sse)
    try:
        assert await live.post("before") == 201
        live.before_id = (await ws.comment("before"))["id"]
        assert (await sse.comment("before"))["id"] == live.before_id
        yield live
    finally:
        await ws.close()
        await sse.close()


async def reconnect(
    live: Live, transport: type[WSViewer | SSEViewer], last_event_id: int | None = None
) -> Viewer:
    """Connect and read ``hello``, retrying a few times as the protocol tells clients to: just
    after the restart a server may still fail a connection (WebSocket close 1011) while its
    pooled Redis connections find out that the old server is gone."""
    for attempt in range(4):
        viewer = await transport.open(
            live.server.url, live.scene.broadcast_id, last_event_id=last_event_id
        )
        try:
            await viewer.next_of("hello")
        except (ConnectionClosed, ConnectionError):
            await viewer.close()
            await asyncio.sleep(0.5 * 2**attempt)
        else:
            return viewer
    pytest.fail("could not reconnect after the restart")


async def newest_id(live: Live) -> int:
    """The broadcast's newest event id, as a new viewer's ``hello`` says it."""
    viewer = await reconnect(live, WSViewer)
    await viewer.close()
    return viewer.first_of("hello")["data"]["last_event_id"]


async def post_until_delivered(live: Live, viewers: list[Viewer]) -> None:
    """Comment once a second until every viewer has received one of these comments (the
    server's subscription to Redis comes back with a backoff of a few seconds)."""
    waiting = list(viewers)
    for n in range(10):
        text = f"after {n}"
        assert await live.post(text) == 201
        for viewer in list(waiting):
            try:
                await viewer.comment(text, wait=1.5)
            except TimeoutError:
                continue
            waiting.remove(viewer)
        if not waiting:
            return
    pytest.fail(f"{len(waiting)} viewer(s) received no comment after Redis came back")


def since_last_reset(viewer: Viewer) -> list[Event]:
    """The events a viewer received after its last ``reset`` (all of them if none came)."""
    resets = [i for i, e in enumerate(viewer.events) if e["type"] == "reset"]
    return viewer.events[resets[-1] + 1 :] if resets else viewer.events


def texts(events: list[Event]) -> list[str]:
    return [e["data"]["text"] for e in events if e["type"] == "comment.created"]


async def test_while_redis_is_down_the_site_answers_and_comments_are_taken(live: Live):
    broadcast_id = live.scene.broadcast_id
    live.redis.stop()

    # Viewer counts and presence read from Redis: they degrade, the request does not fail.
    for path in (
        "/",
        f"/broadcasts/{broadcast_id}/",
        f"/api/broadcasts/{broadcast_id}/",
        f"/api/broadcasts/{broadcast_id}/viewers/",
        "/api/presence/?user_ids=1",
    ):
        status, body, took = await live.get(path)
        assert (path, status) == (path, 200), body
        assert took < BOUNDED, f"{path} took {took:.1f}s while Redis was down"
    assert await live.post("during") == 201
    assert (await live.get("/readyz"))[0] == 503
    assert (await live.get("/healthz"))[0] == 200

    live.redis.start()
    status, comments, _ = await live.get(f"/api/broadcasts/{broadcast_id}/comments/")
    assert [c["text"] for c in comments["results"]] == ["before", "during"]  # type: ignore[index]
    assert await asyncio.to_thread(
        wait_until, lambda: http_get(f"{live.server.url}/readyz")[0] == 200, timeout=WAIT
    )


async def test_after_the_restart_delivery_resumes_and_reconnects_are_told_to_refetch(live: Live):
    await live.restart_redis_losing("during")

    # "during" was never published and history is gone: only a reset is honest.
    reconnected = [
        await reconnect(live, WSViewer, live.before_id),
        await reconnect(live, SSEViewer, live.before_id),
    ]
    try:
        for viewer in reconnected:
            first = viewer.first_batch()
            if texts(first) != ["during"]:
                assert [e["type"] for e in first][:2] == ["hello", "reset"], first

        await post_until_delivered(live, [live.ws, live.sse, *reconnected])
        for viewer in (live.ws, live.sse, *reconnected):
            # Redis lost the ids too, but new ones start above them: they never go back.
            ids = recoverable_ids(viewer.events)
            assert ids == sorted(set(ids)), f"ids repeat or go back: {ids}"
    finally:
        for viewer in reconnected:
            await viewer.close()


async def test_every_viewer_is_told_to_refetch_then_follows_the_new_ids(live: Live):
    """Redis restarted empty: the comment taken while it was down never went out and the ids
    were lost (new ones start above them). Viewers connected through the restart, and one
    resuming with its old id, are each told to refetch (``reset``), and then receive new
    comments with no gap and no repeat."""
    await live.restart_redis_losing("during")
    reconnected = await reconnect(live, WSViewer, live.before_id)
    try:
        viewers = [live.ws, live.sse, reconnected]
        for viewer in viewers:
            await viewer.next_of("reset")
        await post_until_delivered(live, viewers)
        # Every id since the restart, as a client that has seen none of them gets them.
        newcomer = await reconnect(live, WSViewer, 0)
        await newcomer.close()
        new_ids = recoverable_ids(newcomer.first_batch())
        assert new_ids, "a client that has seen no id is replayed every one since the restart"
        assert new_ids[0] > live.before_id, "ids went back after Redis lost them"
        for viewer in viewers:
            reset = [e for e in viewer.events if e["type"] == "reset"][-1]
            last = reset["data"]["last_event_id"]
            ids = recoverable_ids(since_last_reset(viewer))
            assert ids, "new comments arrive after the reset"
            # A reset to 0 came before the first new id, which comes from the clock.
            assert ids == consecutive(last + 1 if last else new_ids[0], len(ids)), ids
    finally:
        await reconnected.close()


async def test_a_reconnect_after_new_comments_is_not_told_it_is_up_to_date(live: Live):
    """Once new comments have ids again, those ids are above the old ones (they start from
    the clock, not from 1), so a client resuming with its old id is not taken to be up to
    date: it is told to refetch rather than silently skip "during" and "after"."""
    await live.restart_redis_losing("during")
    assert await live.post("after") == 201
    for _ in range(50):  # until the comment after the restart is published
        if newest := await newest_id(live):
            break
        await asyncio.sleep(0.2)
    else:
        pytest.fail("the comment after the restart was never published")
    assert newest > live.before_id, "ids went back after Redis lost them"

    again = await reconnect(live, WSViewer, live.before_id)
    await again.close()
    hello, reset = again.first_batch()
    assert (hello["data"]["last_event_id"], reset["type"]) == (newest, "reset")
    assert reset["data"] == {"last_event_id": newest}
