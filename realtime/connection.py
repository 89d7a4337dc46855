"""One client's stream of one topic, whatever the transport.

Opening joins the hub *before* reading history, so nothing published in between is lost;
what arrives twice (in the replay and live) is dropped by id. Both transports write the same
way (``serve``): while nothing is queued or being written, the hub writes an event at once
(the transport's ``write_now``, one frame), and the keep-alive ticker writes keep-alives the
same way; waking a writer task per connection per event was most of the cost of a delivery.
So an idle connection has no writer task (an idle task and its frames are a good part of a
connection's memory: docs/performance.md). A task is started only when a write has to wait
(the client's buffer is full): it finishes that write before anything else, so order holds,
then sends what queued meanwhile as one frame, and ends once nothing is left. While it is
busy (a client that does not read makes its send wait), the queue may grow to
``max_backlog`` events; one more and the connection leaves the hub at once (its memory stays
bounded and nobody else waits for it) and the transport closes it; the client can reconnect
and resume. A burst that arrives while the writer is idle is not held against the client:
the writer takes it all on its next turn.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from realtime import metrics
from realtime.hub import Hub
from realtime.keepalive import KeepAliveTicker
from realtime.protocol import RESET, Batch, Event, make_event, now_ms
from realtime.runtime import runtime

logger = logging.getLogger(__name__)


# Writes a batch as one frame now; returns None when done, or what must still be awaited.
WriteNow = Callable[[Batch], Awaitable[None] | None]


class RawWrite(Protocol):
    """Writes a batch straight to the socket (``realtime.rawsend``)."""

    def write(self, batch: Batch) -> bool:
        """Write the batch now and say True, or write nothing and say False."""


# Connection ids are unique across processes and restarts (presence stores them in Redis): a
# random prefix per process, then a count; a uuid4 per connection (a system call for
# randomness, a UUID object) was a measurable share of a reconnect storm (docs/performance.md).
_PROCESS_ID = secrets.token_hex(8) + "."
_numbers = itertools.count(1)


def _nowhere(batch: Batch) -> None:
    """A closed connection's ``write_now``: nothing is written any more."""


class Connection:
    """One client's stream of one topic: what the hub hands it, on its way to the socket.

    A transport (``realtime.transport``) makes one per client with its ``write_now`` (and,
    under uvicorn, a ``raw`` writer that ``write_now`` stands in for whenever it cannot write
    at once), ``open``s it (joining the topic; the first batch is ``hello`` and the replay),
    sends that first frame, then ``serve``s it: written at once by the hub while nothing waits,
    by a writer task only while something does. The hub calls ``push``; events already queued
    or sent are dropped by id; a backlog past ``max_backlog`` closes it (``on_overflow``). The
    loop's ``KeepAliveTicker`` asks it for keep-alives (``keepalive_due``,
    ``send_keepalive``). ``close`` leaves the topic.
    """

    __slots__ = (
        "_drainer",
        "_hub",
        "_idle",
        "_last_id",
        "_loop",
        "_queue",
        "_send",
        "_sent_at",
        "_ticker",
        "_unfinished",
        "id",
        "keepalive_interval",
        "max_backlog",
        "on_overflow",
        "overflowed",
        "raw",
        "topic",
        "transport",
        "write_now",
    )

    def __init__(
        self,
        topic: str,
        *,
        transport: str,
        max_backlog: int,
        write_now: WriteNow,
        raw: RawWrite | None = None,
        on_overflow: Callable[[], None] | None = None,
    ) -> None:
        self.topic = topic
        self.transport = transport  # "websocket" or "sse", for metrics
        self.id = f"{_PROCESS_ID}{next(_numbers):x}"
        self.max_backlog = max_backlog
        self.on_overflow = on_overflow
        self.write_now = write_now
        self.raw = raw
        self.overflowed = False
        self._queue: list[Event] = []
        # The writer: a task started when a write has to wait, gone once nothing is left.
        self._send: Callable[[list[Event]], Awaitable[None]] | None = None
        self._drainer: asyncio.Task[None] | None = None
        self._idle = False  # serving, and no writer running: the hub may write at once
        self._unfinished: Awaitable[None] | None = None  # a direct write that had to wait
        self._loop = asyncio.get_running_loop()
        self._sent_at = self._loop.time()  # when the last frame went out
        self.keepalive_interval = 0.0  # seconds of silence before a keep-alive (set by serve)
        self._last_id: int | None = None  # newest id queued or sent; None until opened
        self._hub: Hub | None = None
        self._ticker: KeepAliveTicker | None = None

    async def open(
        self, last_event_id: int | None, hello_data: Callable[[], Awaitable[dict[str, Any]]]
    ) -> list[Event]:
        """Join the topic and return the first batch: ``hello``, then the events after
        ``last_event_id`` (or ``reset`` when history no longer has them)."""
        loop_runtime = runtime()
        self._hub, self._ticker = loop_runtime.hub, loop_runtime.ticker
        metrics.open_connections(self.transport).inc()
        await self._hub.join(self.topic, self)
        replay = self._hub.recent_replay(self.topic, last_event_id)
        if replay is None:
            replay = await loop_runtime.replays.get((self.topic, last_event_id))
        hello = make_event("hello", {**await hello_data(), "last_event_id": replay.last_id})
        if replay.reset:
            first = [hello, make_event(RESET, {"last_event_id": replay.last_id})]
        else:
            first = [hello, *replay.events]
        # Anything queued meanwhile that the replay (or hello) already covers goes.
        self._queue = [e for e in self._queue if e.id is None or e.id > replay.last_id]
        self._last_id = max([replay.last_id] + [e.id for e in self._queue if e.id is not None])
        return first

    def push(self, batch: Batch) -> bool:
        """Take events the hub hands on (never blocks): True when they were written at once,
        as one frame; False when queued, or when there was nothing new to send."""
        if self.overflowed:
            return False
        last = self._last_id
        if last is not None:
            if batch.has_reset or (batch.first_id is not None and batch.first_id <= last):
                events = self._fresh(batch.events)
                if not events:
                    return False
                batch = Batch(events)
            elif batch.last_id is not None:
                self._last_id = batch.last_id
        if self._idle and not self._queue:
            self._write_now(batch)
            return True
        if len(self._queue) + len(batch.events) > self.max_backlog and not self._idle:
            self._overflow()
            return False
        self._queue.extend(batch.events)
        self._kick()
        return False

    def _fresh(self, events: list[Event]) -> list[Event]:
        """``events`` without those already queued or sent, noting the newest id; after a
        ``reset`` the topic continues from its ``last_event_id`` (history was lost)."""
        fresh = []
        for event in events:
            if event.type == RESET:
                self._last_id = event.data["last_event_id"]
            elif event.id is not None:
                if event.id <= self._last_id:  # type: ignore[operator]
                    continue
                self._last_id = event.id
            fresh.append(event)
        return fresh

    def _write_now(self, batch: Batch) -> None:
        self._sent_at = self._loop.time()
        # The fan-out's path: its cost per connection is mostly this call and the system call
        # in it (docs/performance.md), so the transport is not asked unless it must be.
        raw = self.raw
        if raw is not None and raw.write(batch):
            return
        unfinished = self.write_now(batch)
        if unfinished is not None:
            # The writer finishes this write first; until then events queue behind it.
            self._unfinished = unfinished
            self._idle = False
            self._kick()

    def _kick(self) -> None:
        """There is something for the writer to do: start it (unless it runs, or the
        connection is not served yet or any more)."""
        if self._send is not None and self._drainer is None:
            self._idle = False
            self._drainer = self._loop.create_task(self._drain())

    def _overflow(self) -> None:
        metrics.SLOW_CLIENTS_DROPPED.inc()
        self.overflowed = True
        self._queue.clear()
        on_overflow = self.on_overflow  # close() lets go of it
        self.close()
        if on_overflow is not None:
            on_overflow()

    def serve(self, send: Callable[[list[Event]], Awaitable[None]], keepalive: float) -> None:
        """Write from now on (the transport has just sent the first frame) without a writer
        task waiting: events and keep-alives are written at once (``write_now``) while
        nothing is queued or being written, and otherwise by a task started then, which sends
        what queued with ``send`` (one frame per batch) and ends when nothing is left. An idle
        connection holds no task (see the module's docstring)."""
        self._send = send
        self.keepalive_interval = keepalive
        self._sent_at = self._loop.time()
        self._keepalive_ticker().watch(self)
        if self._queue:
            self._kick()
        else:
            self._idle = True

    async def _drain(self) -> None:
        """The writer: a direct write that had to wait is finished first, then everything
        queued goes with ``send`` as one frame, until nothing is left (or the backlog has
        overflowed)."""
        try:
            while not self.overflowed:
                if self._unfinished is not None:
                    unfinished, self._unfinished = self._unfinished, None
                    await unfinished
                elif self._queue:
                    batch, self._queue = self._queue, []
                    await self._send(batch)  # type: ignore[misc]
                    self._sent(batch)
                else:
                    return
        except Exception:
            # The client is gone (the server refuses the send): the transport hears of the
            # disconnect and closes.
            logger.debug("realtime: a write failed", exc_info=True)
        finally:
            self._drainer = None
            self._idle = self._send is not None  # still serving: idle again

    def _sent(self, batch: list[Event]) -> None:
        """The transport has written ``batch`` as one frame."""
        self._sent_at = self._loop.time()
        metrics.FRAMES_SENT.inc()
        metrics.DELIVERY_LATENCY.observe(max(0.0, now_ms() - batch[0].ts) / 1000)

    def _keepalive_ticker(self) -> KeepAliveTicker:
        """The ticker of the runtime this connection opened in (of the running loop's, before
        it opens)."""
        if self._ticker is None:
            self._ticker = runtime().ticker
        return self._ticker

    def keepalive_due(self, now: float) -> bool:
        """Idle, and nothing sent for the keep-alive interval (asked by the ticker)."""
        return self._idle and now >= self._sent_at + self.keepalive_interval

    def send_keepalive(self, keepalive: Callable[[], Batch]) -> None:
        """The ticker found the connection idle and silent for its keep-alive interval."""
        if self._send is not None:
            metrics.FRAMES_SENT.inc()
            self._write_now(keepalive())

    def close(self) -> None:
        """Leave the topic and stop writing (idempotent). The transport's callbacks are let
        go: they and the transport's reference to this connection make a cycle, which would
        keep a closed connection's whole transport (its server state too) until the
        collector's next full pass, and those are rare (``realtime.gcpolicy``)."""
        self.write_now = _nowhere
        self.raw = None
        self.on_overflow = None
        if self._hub is not None:
            self._hub.leave(self.topic, self)
            self._hub = None
            metrics.open_connections(self.transport).dec()
        if self._send is not None:
            self._send = None
            self._idle = False
            self._keepalive_ticker().forget(self)
            if self._drainer is not None:
                self._drainer.cancel()  # it may be stuck sending to a client that stalled
