"""Publishing events to a topic, only after the current transaction commits.

``publish`` never makes a request wait for Redis. Called from sync code (a view, a service
run by ``database_sync_to_async``), it registers ``transaction.on_commit`` and, once the
transaction commits, hands the event to one long-lived publisher: a daemon thread with its
own event loop and its own Redis connection, fed in call order. (``async_to_sync`` from a
plain thread would make a new event loop, and new Redis connections, per call.) Called from
inside a running event loop (async code cannot hold a transaction open), the event goes out
at once on that loop.

``publish_latest`` is for absolute snapshots (reaction totals): per topic, at most one every
``REALTIME["SNAPSHOT_INTERVAL"]`` seconds, and ``build()`` runs when it is sent, so the last
one always carries the stored state after the last commit.

The data is encoded to JSON in ``publish`` itself, so an event that cannot be encoded fails
where it is built, not later in the publisher.
"""

from __future__ import annotations

import asyncio
import concurrent.futures.thread  # noqa: F401  (see _flush_at_exit)
import logging
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from django.db import close_old_connections, transaction

from realtime import metrics
from realtime.conf import get_history, option
from realtime.loops import for_loop
from realtime.protocol import encode_data, make_event, now_ms

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Outgoing:
    """An event on its way out."""

    topic: str
    type: str
    data: dict[str, Any]
    data_json: str
    recoverable: bool
    ts: float = field(default=0.0)


# Functions called with every event as it is handed over (``realtime.testing`` uses this).
observers: list[Callable[[Outgoing], None]] = []


def publish(topic: str, event_type: str, data: dict[str, Any], *, recoverable: bool = True) -> None:
    """Publish once the current transaction commits (at once outside one); never blocks.

    ``recoverable`` events get the topic's next id and are kept for replay; the others are
    snapshots (id null) that only live connections see.
    """
    item = Outgoing(topic, event_type, data, encode_data(data), recoverable)
    loop = _running_loop()
    if loop is not None:
        _hand_over(item, loop)
    else:
        transaction.on_commit(lambda: _hand_over(item, None), robust=True)


def publish_latest(topic: str, event_type: str, build: Callable[[], dict[str, Any]]) -> None:
    """Schedule a latest-wins snapshot of ``build()`` for the topic, coalesced per topic.

    ``build`` runs in a worker thread when the snapshot is sent (it may read the database).
    """
    if _running_loop() is not None:
        _publisher().request_latest(topic, event_type, build)
    else:
        transaction.on_commit(
            lambda: _publisher().request_latest(topic, event_type, build), robust=True
        )


def flush(timeout: float = 10.0) -> None:
    """Wait until everything handed over so far has been sent (tests, shutdown)."""
    deadline = time.monotonic() + timeout
    with _pending_changed:
        # Polls as well: a test's loop may close with events still queued on it.
        while _outstanding():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"realtime: {_outstanding()} publish(es) still pending")
            _pending_changed.wait(0.05)


async def aflush(wait: float = 10.0) -> None:
    """``flush`` for async code (waits at most ``wait`` seconds); the running loop keeps
    sending meanwhile."""
    await asyncio.to_thread(flush, wait)


# --- Internals -----------------------------------------------------------------------------

# Per event loop: events (and snapshot requests) handed over and not yet sent.
_pending: Counter[asyncio.AbstractEventLoop] = Counter()
_pending_changed = threading.Condition()


def _add_pending(loop: asyncio.AbstractEventLoop, n: int) -> None:
    with _pending_changed:
        _pending[loop] += n
        if _pending[loop] <= 0:
            del _pending[loop]
            _pending_changed.notify_all()


def _outstanding() -> int:
    with _pending_changed:
        return sum(n for loop, n in _pending.items() if not loop.is_closed())


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _hand_over(item: Outgoing, loop: asyncio.AbstractEventLoop | None) -> None:
    item.ts = now_ms()
    for observer in observers:
        observer(item)
    if loop is None:
        _publisher().submit(item)
    else:
        _add_pending(loop, 1)
        _sender(loop).submit(item)


async def _send(item: Outgoing) -> None:
    history = get_history()
    if item.recoverable:
        await history.append(item.topic, item.type, item.data, ts=item.ts, data_json=item.data_json)
    else:
        event = make_event(item.type, item.data, ts=item.ts, data_json=item.data_json)
        await history.announce(item.topic, event)


class _Sender:
    """Sends events one after another, in submission order, on one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._queue: deque[Outgoing] = deque()
        self._task: asyncio.Task[None] | None = None

    def submit(self, item: Outgoing) -> None:
        """Queue ``item``; call on the sender's loop."""
        self._queue.append(item)
        if self._task is None:
            self._task = self.loop.create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._queue:
                item = self._queue.popleft()
                try:
                    try:
                        await _send(item)
                    except redis.ConnectionError:
                        # A pooled connection that a Redis restart closed fails its first
                        # command before it reaches the server: send once more on a new one.
                        await _send(item)
                except Exception:
                    metrics.REDIS_ERRORS.labels("publish").inc()
                    logger.exception("realtime: could not publish %s to %s", item.type, item.topic)
                else:
                    metrics.EVENTS_PUBLISHED.labels(item.type).inc()
                finally:
                    _add_pending(self.loop, -1)
        finally:
            self._task = None


_senders: dict[asyncio.AbstractEventLoop, _Sender] = {}


def _sender(loop: asyncio.AbstractEventLoop) -> _Sender:
    return for_loop(_senders, loop, lambda: _Sender(loop))


@dataclass(slots=True)
class _Latest:
    event_type: str
    build: Callable[[], dict[str, Any]]
    dirty: bool = True


class _Publisher:
    """The process's publisher thread: its own loop, its own Redis connection."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.sender = _sender(self.loop)
        self._latest: dict[str, _Latest] = {}
        threading.Thread(
            target=self.loop.run_forever, name="realtime-publisher", daemon=True
        ).start()

    def submit(self, item: Outgoing) -> None:
        _add_pending(self.loop, 1)
        self.loop.call_soon_threadsafe(self.sender.submit, item)

    def request_latest(
        self, topic: str, event_type: str, build: Callable[[], dict[str, Any]]
    ) -> None:
        _add_pending(self.loop, 1)
        self.loop.call_soon_threadsafe(self._request_latest, topic, event_type, build)

    def _request_latest(
        self, topic: str, event_type: str, build: Callable[[], dict[str, Any]]
    ) -> None:
        latest = self._latest.get(topic)
        if latest is None:
            self._latest[topic] = _Latest(event_type, build)
            _add_pending(self.loop, 1)
            self.loop.create_task(self._send_latest(topic))
        else:
            latest.event_type, latest.build, latest.dirty = event_type, build, True
        _add_pending(self.loop, -1)

    async def _send_latest(self, topic: str) -> None:
        """Send the topic's snapshot, then keep its slot for one interval; a request in that
        interval is sent at its end, built afresh."""
        latest = self._latest[topic]
        try:
            while latest.dirty:
                latest.dirty = False
                try:
                    data = await asyncio.to_thread(_build, latest.build)
                except Exception:
                    logger.exception(
                        "realtime: could not build %s for %s", latest.event_type, topic
                    )
                else:
                    item = Outgoing(topic, latest.event_type, data, encode_data(data), False)
                    _hand_over(item, self.loop)
                await asyncio.sleep(option("SNAPSHOT_INTERVAL"))
        finally:
            del self._latest[topic]
            _add_pending(self.loop, -1)


def _build(build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return build()
    finally:
        close_old_connections()  # this worker thread is not a request: let go of the DB


_the_publisher: _Publisher | None = None
_publisher_lock = threading.Lock()


def _publisher() -> _Publisher:
    global _the_publisher
    with _publisher_lock:
        if _the_publisher is None or _the_publisher.pid != os.getpid():  # new, or forked
            _the_publisher = _Publisher()
        return _the_publisher


def _flush_at_exit() -> None:
    if _outstanding():
        try:
            flush(timeout=2.0)
        except TimeoutError:
            logger.warning("realtime: exiting with %s event(s) unsent", _outstanding())


# Flush while the interpreter can still run thread-pool work: snapshots are built with
# asyncio.to_thread, and concurrent.futures refuses new work once threading's shutdown hooks
# ran, which is before plain atexit handlers ("cannot schedule new futures after interpreter
# shutdown" from a short command such as seed_demo). Those hooks run last-registered first, so
# the thread pool's own hook is imported (registered) before ours.
threading._register_atexit(_flush_at_exit)  # type: ignore[attr-defined]
