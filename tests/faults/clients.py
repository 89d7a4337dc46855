"""Clients of real app servers for fault tests: REST calls, and WebSocket and SSE viewers
that keep every event they receive, so a test can check ids for gaps and duplicates."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

Event = dict[str, Any]

# Generous: the machine may be busy with other engineers' benchmarks.
WAIT = 15.0


def call(
    method: str, url: str, *, body: Any = None, token: str | None = None, timeout: float = 10
) -> tuple[int, Any, float]:
    """One HTTP request: (status, body parsed as JSON when it is JSON, seconds it took)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = raw
    return status, parsed, time.monotonic() - started


def post_comment(base_url: str, broadcast_id: int, token: str, text: str) -> tuple[int, Any]:
    status, body, _ = call(
        "POST", f"{base_url}/api/broadcasts/{broadcast_id}/comments/", body={"text": text},
        token=token,
    )  # fmt: skip
    return status, body


def recoverable_ids(events: list[Event]) -> list[int]:
    return [e["id"] for e in events if e["id"] is not None]


class Viewer:
    """One viewer's stream: every event received so far, in order, in ``events``."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._unread = 0  # index in ``events`` of the first event ``next_of`` has not passed

    async def read_batch(self) -> list[Event]:
        """The next frame's (or SSE message's) events."""
        raise NotImplementedError("subclasses of Viewer must provide read_batch()")

    async def close(self) -> None:
        raise NotImplementedError("subclasses of Viewer must provide close()")

    async def next_of(
        self, event_type: str, where: Callable[[Event], bool] = lambda e: True, wait: float = WAIT
    ) -> Event:
        """The next event of ``event_type`` matching ``where``, reading on as needed."""
        async with asyncio.timeout(wait):
            while True:
                while self._unread < len(self.events):
                    event = self.events[self._unread]
                    self._unread += 1
                    if event["type"] == event_type and where(event):
                        return event
                self.events += await self.read_batch()

    async def comment(self, text: str, wait: float = WAIT) -> Event:
        """The ``comment.created`` event of the comment with ``text``."""
        return await self.next_of("comment.created", lambda e: e["data"]["text"] == text, wait)

    def ids(self) -> list[int]:
        return recoverable_ids(self.events)

    def first_of(self, event_type: str) -> Event:
        """The first event of ``event_type`` received so far."""
        return next(e for e in self.events if e["type"] == event_type)

    def first_batch(self) -> list[Event]:
        """What came with ``hello``: the replay, or ``reset`` (call after reading hello)."""
        hello = self.events.index(self.first_of("hello"))
        return self.events[hello:]


class WSViewer(Viewer):
    def __init__(self, ws: ClientConnection) -> None:
        super().__init__()
        self.ws = ws

    @classmethod
    async def open(
        cls,
        base_url: str,
        broadcast_id: int,
        last_event_id: int | None = None,
        source: str = "127.0.0.1",
    ):
        """``source``: the loopback address to connect from (anonymous viewers count once per
        address)."""
        query = "" if last_event_id is None else f"?last_event_id={last_event_id}"
        ws_url = base_url.replace("http://", "ws://", 1)
        ws = await connect(
            f"{ws_url}/ws/broadcasts/{broadcast_id}/{query}",
            origin=base_url,
            open_timeout=WAIT,
            local_addr=(source, 0),
        )
        return cls(ws)

    async def read_batch(self) -> list[Event]:
        return json.loads(await self.ws.recv())

    async def close(self) -> None:
        await self.ws.close()


class SSEViewer(Viewer):
    """An SSE client over a raw socket (HTTP/1.0, so the body is not chunked)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__()
        self.reader, self.writer = reader, writer
        self.message_ids: list[str] = []  # the ``id:`` of each message that had one
        self._message: list[Event] = []  # the events of the message being read

    @classmethod
    async def open(
        cls,
        base_url: str,
        broadcast_id: int,
        last_event_id: int | None = None,
        source: str = "127.0.0.1",
    ):
        host, port = base_url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port), local_addr=(source, 0))
        resume = "" if last_event_id is None else f"Last-Event-ID: {last_event_id}\r\n"
        path = f"/sse/broadcasts/{broadcast_id}/"
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n{resume}\r\n".encode())
        await writer.drain()
        async with asyncio.timeout(WAIT):
            status = await reader.readline()
            assert b" 200 " in status, status
            while (await reader.readline()).strip():
                pass  # headers
        return cls(reader, writer)

    async def read_batch(self) -> list[Event]:
        # Cancel-safe (a caller may time out mid-message): the message so far is kept here.
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("the SSE response ended")
            text = line.decode().rstrip("\n")
            if text.startswith("id: "):
                self.message_ids.append(text[4:])
            elif text.startswith("data: "):
                self._message += json.loads(text[6:])
            elif not text and self._message:
                events, self._message = self._message, []
                return events

    async def close(self) -> None:
        self.writer.close()
