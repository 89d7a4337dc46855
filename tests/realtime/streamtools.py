"""Stream test helpers: WebSocket/SSE clients that speak to the ASGI application in-process
(the isolated real-time setup per test is ``tests.conftest.fresh_realtime``).

Tests that publish need ``pytest.mark.django_db(transaction=True)``: events go out on commit.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from asgiref.testing import ApplicationCommunicator
from channels.testing import WebsocketCommunicator

from realtime.runtime import get_history

Event = dict[str, Any]
ORIGIN = (b"origin", b"http://testserver")
HOST = (b"host", b"testserver")


def realtime_settings(settings: Any, **options: Any) -> None:
    """Change some ``REALTIME`` options for this test (the cached store and hubs reset)."""
    settings.REALTIME = {**settings.REALTIME, **options}


async def newest_id(topic: str) -> int:
    """The newest id the topic has given out, as ``hello`` tells a client (0: none yet)."""
    return (await get_history().replay(topic, None)).last_id


def consecutive(first: int | None, count: int) -> list[int]:
    """``count`` ids from ``first`` on: a topic's ids follow each other, but where they start
    is not known in advance (a new topic's first comes from the clock)."""
    assert first is not None, "a snapshot (no id) where an event with an id was expected"
    return list(range(first, first + count))


def without_keepalives(events: list[Event]) -> list[Event]:
    return [e for e in events if e["type"] != "keepalive"]


async def next_output(communicator: ApplicationCommunicator, wait: float) -> dict[str, Any]:
    """The application's next ASGI message. Unlike ``receive_output``, a timeout leaves the
    application running (so tests can wait for "nothing more" and go on)."""
    try:
        async with asyncio.timeout(wait):
            return await communicator.output_queue.get()
    except TimeoutError:
        if communicator.future.done():
            communicator.future.result()  # the application's own error, if it failed
        raise


def stalling(
    app: Any, stalled: asyncio.Event, release: asyncio.Event | None = None, *, sends: str
) -> Any:
    """The application as seen by a client that reads its first frame (the first message of
    type ``sends``: ``websocket.send`` or ``http.response.body``) and then stops reading
    (until ``release``): every later one waits, as a send to a full socket buffer does."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> Any:
        sent = 0

        async def slow_send(message: dict[str, Any]) -> None:
            nonlocal sent
            if message["type"] == sends:
                sent += 1
                if sent > 1:
                    stalled.set()
                    await (release or asyncio.Event()).wait()
            await send(message)

        return await app(scope, receive, slow_send)

    return wrapped


class WSClient:
    """A WebSocket client of an ASGI application (``livevideo.asgi.application`` by default)."""

    def __init__(
        self,
        path: str,
        *,
        headers: list[tuple[bytes, bytes]] | None = None,
        application: Any = None,
    ) -> None:
        if application is None:
            from livevideo.asgi import application
        self.communicator = WebsocketCommunicator(
            application, path, headers=[HOST, ORIGIN, *(headers or [])]
        )
        self.pending: list[Event] = []

    async def connect(self) -> list[Event]:
        """Connect and return the first frame (``hello`` first)."""
        connected, _ = await self.communicator.connect()
        assert connected
        return await self.frame()

    async def frame(self, wait: float = 3) -> list[Event]:
        message = await next_output(self.communicator, wait)
        assert message["type"] == "websocket.send", message
        frame = json.loads(message["text"])
        assert isinstance(frame, list)
        assert frame, "frames carry one or more events"
        return frame

    async def receive(self, count: int, wait: float = 3) -> list[Event]:
        """The next ``count`` events (keep-alives skipped), whatever frames carry them."""
        return await self.receive_until(lambda got: len(got) >= count, wait)

    async def receive_until(
        self, done: Callable[[list[Event]], bool], wait: float = 3
    ) -> list[Event]:
        got: list[Event] = []
        async with asyncio.timeout(wait):
            while not done(got):
                if not self.pending:
                    self.pending = without_keepalives(await self.frame(wait))
                got.append(self.pending.pop(0))
        return got

    async def collect(self, seconds: float) -> list[Event]:
        """Every event (keep-alives skipped) that arrives within ``seconds``."""
        got, self.pending = self.pending, []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            try:
                got += without_keepalives(await self.frame(left))
            except TimeoutError:
                break
        return got

    async def send(self, message: Any) -> None:
        await self.communicator.send_to(text_data=json.dumps(message))

    async def send_raw(self, text: str | None = None, data: bytes | None = None) -> None:
        await self.communicator.send_input(
            {"type": "websocket.receive", "text": text}
            if text is not None
            else {"type": "websocket.receive", "bytes": data}
        )

    async def nothing_more(self, wait: float = 0.2) -> None:
        """Assert that no frame (but keep-alives) arrives within ``wait`` seconds."""
        assert not await self.collect(wait)

    async def closed_with(self, wait: float = 3) -> int:
        """Wait for the server to close the socket; its close code."""
        async with asyncio.timeout(wait):
            while True:
                message = await next_output(self.communicator, wait)
                if message["type"] == "websocket.close":
                    return message.get("code", 1000)

    async def close(self) -> None:
        await self.communicator.disconnect()


class SSEClient:
    """A Server-Sent Events client of an ASGI application."""

    def __init__(
        self,
        path: str,
        *,
        headers: list[tuple[bytes, bytes]] | None = None,
        application: Any = None,
    ) -> None:
        if application is None:
            from livevideo.asgi import application
        path, _, query = path.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"host", b"testserver"), *(headers or [])],
            "client": ("127.0.0.1", 12345),
            "server": ("testserver", 80),
        }
        self.communicator = ApplicationCommunicator(application, scope)
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body = b""  # a non-streaming response's body
        self._buffer = ""
        self.pending: list[Event] = []
        self.messages: list[dict[str, Any]] = []  # every SSE message parsed so far

    async def open(self, wait: float = 3) -> int:
        await self.communicator.send_input({"type": "http.request", "body": b""})
        start = await self.communicator.receive_output(wait)
        assert start["type"] == "http.response.start"
        self.status = start["status"]
        self.headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        if not self.headers.get("content-type", "").startswith("text/event-stream"):
            while True:
                chunk = await self.communicator.receive_output(wait)
                self.body += chunk.get("body", b"")
                if not chunk.get("more_body"):
                    break
        return self.status

    async def message(self, wait: float = 3) -> dict[str, Any]:
        """The next SSE message: ``{"id", "retry", "data" (the parsed array), "comment"}``."""
        while "\n\n" not in self._buffer:
            chunk = await next_output(self.communicator, wait)
            assert chunk["type"] == "http.response.body"
            assert chunk.get("more_body"), "the stream ended"
            self._buffer += chunk["body"].decode()
        raw, self._buffer = self._buffer.split("\n\n", 1)
        message: dict[str, Any] = {"id": None, "retry": None, "data": None, "comment": None}
        for line in raw.split("\n"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "":
                message["comment"] = value
            elif field == "data":
                message["data"] = json.loads(value)
            elif field in ("id", "retry"):
                message[field] = value
        self.messages.append(message)
        return message

    async def receive(self, count: int, wait: float = 3) -> list[Event]:
        got: list[Event] = []
        async with asyncio.timeout(wait):
            while len(got) < count:
                if not self.pending:
                    message = await self.message(wait)
                    self.pending = message["data"] or []
                    continue
                got.append(self.pending.pop(0))
        return got

    async def ended(self, wait: float = 3) -> bool:
        """Read until the server ends the response."""
        async with asyncio.timeout(wait):
            while True:
                chunk = await next_output(self.communicator, wait)
                if not chunk.get("more_body"):
                    return True

    async def close(self) -> None:
        await self.communicator.send_input({"type": "http.disconnect"})
        await self.communicator.wait(3)
