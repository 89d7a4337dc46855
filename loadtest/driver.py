"""The driver process: sends reactions and comments at given rates, over REST or WebSocket.

Each request goes out on its schedule (``t0 + i / rate``) over a pool of keep-alive HTTP/1.1
connections, with ``Authorization: Token`` of one of many users in turn (so the per-user rate
limits are not what is measured). ``ingest`` drives reactions only; with a rate of 0 over
REST, as fast as the pool allows. If every connection is busy the request waits: that lag
is reported, since it means the server, not the schedule, set the pace. Over WebSocket
(``transport="ws"``) each user has one socket and a message is written without waiting for
anything: what the server stored is counted in the database afterwards. ``transport="page"``
sends as the watch page does: reactions over the WebSocket, comments over REST.

With several broadcasts (hottest first) the reactions go to the hottest and the comments rate
is per broadcast, the comments taking the broadcasts in turn; each broadcast's comments come
from the users in turn, so no user posts often on one broadcast.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from loadtest.client import Viewer, WebSocketStream
from loadtest.stats import Histogram, Reservoir

KINDS = ("like", "celebrate", "support", "love", "insightful", "funny")
DRAIN_TIMEOUT = 60.0  # seconds the drive's end waits for a server behind to read the rest


@dataclass(frozen=True)
class DriverConfig:
    host: str
    ports: list[int]
    broadcast_ids: list[int]  # hottest first: it takes the reactions
    tokens: list[str]
    reactions_per_sec: float
    comments_per_sec: float  # on each broadcast
    duration: float
    connections: int = 32
    # WebSocket senders on each broadcast but the hottest (which has one per user); 0: one
    # per user. Enough users that a broadcast's comments stay under the per-user limit.
    sockets_per_broadcast: int = 0
    ingest: bool = False  # reactions only (rate 0 over REST: as fast as the pool allows)
    # "rest"; "ws": messages on one WebSocket per user, no response awaited; "page": as the
    # watch page sends them (reactions over the WebSocket, comments over REST)
    transport: str = "rest"

    def over_websocket(self, what: str) -> bool:
        """Whether ``what`` ("reaction" or "comment") is sent over the WebSocket."""
        return self.transport == "ws" or (self.transport == "page" and what == "reaction")


class HttpConnection:
    """One keep-alive HTTP/1.1 connection; reopened after the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: dict[str, Any], token: str
    ) -> tuple[int, bytes]:
        payload = json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Token {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode()
        for attempt in (1, 2):
            if self._writer is None:
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            try:
                self._writer.write(head + payload)
                return await self._response()
            except (ConnectionError, asyncio.IncompleteReadError):
                self._writer = None  # a keep-alive connection the server closed: once more
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _response(self) -> tuple[int, bytes]:
        assert self._reader is not None
        head = (await self._reader.readuntil(b"\r\n\r\n")).decode("latin1")
        status = int(head.split(" ", 2)[1])
        length, closing = 0, False
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                closing = True
        body = await self._reader.readexactly(length)
        if closing:
            self._writer.close()  # type: ignore[union-attr]
            self._writer = None
        return status, body


class Driver:
    def __init__(self, config: DriverConfig, pipe: Connection | None) -> None:
        self.config = config
        self.pipe = pipe
        self.pool: asyncio.Queue[HttpConnection] = asyncio.Queue()
        for i in range(config.connections):
            self.pool.put_nowait(HttpConnection(config.host, config.ports[i % len(config.ports)]))
        self.statuses: dict[str, Counter[int]] = {"reaction": Counter(), "comment": Counter()}
        self.latency = {"reaction": Histogram(), "comment": Histogram()}
        self.comment_pks: list[int] = []
        self.max_lag = 0.0
        self.errors = 0
        self.sockets: dict[int, list[WebSocketStream]] = {}  # broadcast -> its senders
        self.drain_seconds = 0.0  # from the drive's end until the server had read it all
        self.undrained = 0  # sockets whose messages the server had not read by DRAIN_TIMEOUT

    async def open(self) -> None:
        """Open what is sent over before the drive starts: the WebSockets, if any."""
        if self.config.transport != "rest":
            await self._open_sockets()

    async def run(self) -> dict[str, Any]:
        started = time.monotonic()
        streams = [self._stream("reaction", self.config.reactions_per_sec)]
        if not self.config.ingest:
            per_sec = self.config.comments_per_sec * len(self.config.broadcast_ids)
            streams.append(self._stream("comment", per_sec))
        reporter = asyncio.get_running_loop().create_task(self._report())
        await asyncio.gather(*streams)
        seconds = time.monotonic() - started
        await self._drain()
        reporter.cancel()
        return self.result(seconds)

    async def _drain(self) -> None:
        """Wait until the server has read everything sent over the WebSockets: a ``ping``
        after the last message on each, answered only once those before it are handled
        (docs/protocol.md). Closing at once would drop what a server still behind had not
        read, which would show as comments sent but never stored."""
        pending = []
        for senders in self.sockets.values():
            for socket in senders:
                if not socket.lost:
                    socket.viewer.pong = asyncio.get_running_loop().create_future()
                    socket.send_text('{"type": "ping"}')
                    pending.append(socket.viewer.pong)
        if not pending:
            return
        started = time.monotonic()
        _, late = await asyncio.wait(pending, timeout=DRAIN_TIMEOUT)
        self.drain_seconds = time.monotonic() - started
        self.undrained = len(late)

    async def _stream(self, what: str, per_sec: float) -> None:
        unpaced = per_sec <= 0 and self.config.ingest and self.config.transport == "rest"
        if per_sec <= 0 and not unpaced:
            return
        t0 = time.monotonic()
        end = t0 + self.config.duration
        tasks: set[asyncio.Task[None]] = set()
        i = 0
        while True:
            if unpaced:
                due = time.monotonic()
            else:
                due = t0 + i / per_sec
                if due > end:
                    break
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            connection = await self.pool.get()
            now = time.monotonic()
            if now >= end:
                self.pool.put_nowait(connection)
                break
            self.max_lag = max(self.max_lag, now - due)
            task = asyncio.get_running_loop().create_task(self._send(what, i, connection))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
        if tasks:
            await asyncio.gather(*tasks)

    async def _open_sockets(self) -> None:
        """Signed-in WebSockets, one per user on the hottest broadcast and, if comments go
        over them, ``sockets_per_broadcast`` on each other one (each also receives its
        broadcast's stream; it is read and dropped, apart from ``error`` events)."""
        config = self.config
        hottest, *others = config.broadcast_ids
        seats = [hottest] * len(config.tokens)
        for broadcast in others if config.over_websocket("comment") else []:
            seats += [broadcast] * (config.sockets_per_broadcast or len(config.tokens))
        gate = asyncio.Semaphore(50)

        async def one(broadcast: int, i: int) -> WebSocketStream:
            async with gate:
                return await self._open_socket(broadcast, i)

        opened = await asyncio.gather(*(one(b, i) for i, b in enumerate(seats)))
        for broadcast, stream in zip(seats, opened, strict=True):
            self.sockets.setdefault(broadcast, []).append(stream)

    async def _open_socket(self, broadcast: int, i: int) -> WebSocketStream:
        """User ``i`` (in turn)'s WebSocket on ``broadcast``, once it has its hello."""
        loop = asyncio.get_running_loop()
        config = self.config
        viewer = Viewer(Histogram(), Reservoir(0))
        viewer.hello = loop.create_future()
        port = config.ports[i % len(config.ports)]
        token = config.tokens[i % len(config.tokens)]
        _, stream = await loop.create_connection(
            lambda: WebSocketStream(
                viewer,
                config.host,
                port,
                f"/ws/broadcasts/{broadcast}/",
                token,
                on_lost=lambda: None,
            ),
            config.host,
            port,
        )
        await viewer.hello
        return stream

    def _target(self, what: str, i: int) -> tuple[int, int]:
        """Where the ``i``-th ``what`` goes: its broadcast, and the turn of its sender on that
        broadcast (a user's token, or its WebSocket)."""
        broadcasts = self.config.broadcast_ids
        if what == "reaction":
            return broadcasts[0], i
        index, turn = i % len(broadcasts), i // len(broadcasts)
        return broadcasts[index], turn + index

    async def _send(self, what: str, i: int, connection: HttpConnection) -> None:
        if not self.config.over_websocket(what):
            await self._post(what, i, connection)
            return
        self.pool.put_nowait(connection)
        broadcast, turn = self._target(what, i)
        senders = self.sockets[broadcast]
        socket = senders[turn % len(senders)]
        if socket.lost:  # the server closed it (e.g. as a slow consumer): not sent
            self.errors += 1
            return
        if what == "reaction":
            socket.send_text(json.dumps({"type": "reaction", "kind": KINDS[i % 6]}))
        else:
            socket.send_text(json.dumps({"type": "comment", "text": f"load comment {i}"}))
        self.statuses[what][0] += 1  # 0: sent, no response to wait for

    async def _post(self, what: str, i: int, connection: HttpConnection) -> None:
        broadcast, turn = self._target(what, i)
        token = self.config.tokens[turn % len(self.config.tokens)]
        if what == "reaction":
            path, body = f"/api/broadcasts/{broadcast}/reactions/", {"kind": KINDS[i % 6]}
        else:
            path, body = f"/api/broadcasts/{broadcast}/comments/", {"text": f"load comment {i}"}
        started = time.monotonic()
        try:
            status, payload = await connection.request("POST", path, body, token)
        except (OSError, asyncio.IncompleteReadError):
            self.errors += 1
            return
        finally:
            self.pool.put_nowait(connection)
        self.latency[what].add((time.monotonic() - started) * 1000)
        self.statuses[what][status] += 1
        if what == "comment" and status == 201:
            self.comment_pks.append(json.loads(payload)["id"])

    async def _report(self) -> None:
        while self.pipe is not None:
            await asyncio.sleep(0.5)
            self.pipe.send(("progress", {k: sum(v.values()) for k, v in self.statuses.items()}))

    def result(self, seconds: float) -> dict[str, Any]:
        refused: Counter[str] = Counter()
        for senders in self.sockets.values():
            for socket in senders:
                refused.update(socket.viewer.errors)
        return {
            "seconds": seconds,
            "statuses": {k: {str(c): n for c, n in v.items()} for k, v in self.statuses.items()},
            "latency": {k: v.summary() for k, v in self.latency.items()},
            "comments": len(self.comment_pks),
            "comment_sum": sum(self.comment_pks),
            "max_lag": self.max_lag,
            "errors": self.errors + sum(refused.values()),
            "drain_s": self.drain_seconds,
            "undrained": self.undrained,
            "refused": dict(refused),  # error events from the server, by code
        }


async def _main(config: DriverConfig, pipe: Connection) -> dict[str, Any]:
    driver = Driver(config, pipe)
    await driver.open()
    pipe.send(("ready", None))
    # Not a blocking recv on the loop: the open WebSockets are read meanwhile.
    start = await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
    assert start == ("start",)
    return await driver.run()


def main(config: DriverConfig, pipe: Connection) -> None:
    """The driver process's entry point: open its sockets, say "ready", wait for "start",
    drive, send the result."""
    import uvloop

    pipe.send(("result", uvloop.run(_main(config, pipe))))
