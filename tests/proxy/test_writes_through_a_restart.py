"""API clients posting through nginx while every server process is restarted in turn, as
docs/operations.md ("A rolling restart") says: each one taken out of nginx and drained before
its SIGTERM. No write is answered 5xx or cut off, and every comment answered 201 is stored once.
(Stopped without being taken out first, a process closes the connections nginx has just handed
it a request on, and nginx answers those POSTs 502: round 7 in docs/performance-rounds.md.)"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from rest_framework.authtoken.models import Token

from livevideo import services
from livevideo.models import Comment
from loadtest.driver import HttpConnection
from loadtest.management.commands.loadtest import database_url
from loadtest.proxy import Proxy
from loadtest.restart import RollingRestart
from loadtest.servers import Server, server_env
from tests.servers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

CLIENTS = 32  # keep-alive connections posting one comment after another


@pytest.fixture
def servers_behind_nginx(nginx, redis_url, tmp_path) -> Iterator[tuple[list[Server], Proxy]]:
    env = server_env(database_url=database_url(), redis_url=redis_url, proxied=True)
    env["RATE_COMMENTS"] = "1000000"  # one account posts them all: its limit is not the subject
    port = free_port(2)
    servers = [
        Server.start("uvicorn", "127.0.0.1", port + i, env, tmp_path / "servers.log")
        for i in range(2)
    ]
    proxy = Proxy.start(tmp_path / "nginx", free_port(), [s.port for s in servers])
    try:
        for server in servers:
            server.wait_ready()
        proxy.wait_ready()
        yield servers, proxy
    finally:
        proxy.stop()
        for server in servers:
            server.stop()


async def post_until_restarted(
    proxy: Proxy, restart: RollingRestart, token: str, broadcast_id: int
) -> tuple[Counter[int], list[tuple[float, int]], list[str]]:
    """Comments from ``CLIENTS`` clients, each posting its next as soon as the last is
    answered, until every process is back in nginx: the answers by status, each answer's
    (time, status), and every request that got no answer at all."""
    answers: Counter[int] = Counter()
    timeline: list[tuple[float, int]] = []
    failures: list[str] = []
    path = f"/api/broadcasts/{broadcast_id}/comments/"

    async def client(n: int) -> None:
        connection = HttpConnection("127.0.0.1", proxy.port)
        i = 0
        while restart.last_back is None and restart.error is None:
            i += 1
            try:
                status, _ = await connection.request("POST", path, {"text": f"{n}-{i}"}, token)
            except (OSError, asyncio.IncompleteReadError) as failed:
                failures.append(repr(failed))
                connection = HttpConnection("127.0.0.1", proxy.port)
                continue
            answers[status] += 1
            timeline.append((time.monotonic() - restart.started, status))

    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    return answers, timeline, failures


def test_no_write_is_answered_5xx_through_a_rolling_restart(servers_behind_nginx):
    servers, proxy = servers_behind_nginx
    author = services.user_create(username="poster", password="right-horse-battery")
    broadcaster = services.user_create(username="host", password="right-horse-battery")
    services.broadcaster_grant(user=broadcaster)
    broadcast = services.broadcast_create(broadcaster=broadcaster, title="restart")
    services.broadcast_start(broadcast=broadcast, actor=broadcaster)
    token = Token.objects.create(user=author).key
    count_url = f"{proxy.url}/api/broadcasts/{broadcast.pk}/viewers/"

    restart = RollingRestart(servers, proxy, count_url, expected=0).start()
    answers, timeline, failures = asyncio.run(
        post_until_restarted(proxy, restart, token, broadcast.pk)
    )
    result = restart.result()

    assert (dict(answers), failures) == ({201: answers[201]}, []), result["steps"]
    # The clients were posting while each process was out of nginx and stopping.
    for step in result["steps"]:
        stopping = (step["at"], step["at"] + step["reload"] + step["drain"] + step["stop"])
        assert any(stopping[0] <= t <= stopping[1] for t, _ in timeline), (step, len(timeline))
    assert Comment.objects.filter(broadcast=broadcast).count() == answers[201]
