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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import close_old_connections, transaction

from realtime.protocol import encode_data, now_ms
from realtime.runtime import runtime
from realtime.sender import Outgoing, add_pending, outstanding, pending_changed

logger = logging.getLogger(__name__)


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
    with pending_changed:
        # Polls as well: a test's loop may close with events still queued on it.
        while outstanding():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"realtime: {outstanding()} publish(es) still pending")
            pending_changed.wait(0.05)


async def aflush(wait: float = 10.0) -> None:
    """``flush`` for async code (waits at most ``wait`` seconds); the running loop keeps
    sending meanwhile."""
    await asyncio.to_thread(flush, wait)


# --- Internals -----------------------------------------------------------------------------


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
        add_pending(loop, 1)
        runtime().sender.submit(item)


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
        self._latest: dict[str, _Latest] = {}
        threading.Thread(
            target=self.loop.run_forever, name="realtime-publisher", daemon=True
        ).start()

    def submit(self, item: Outgoing) -> None:
        add_pending(self.loop, 1)
        self.loop.call_soon_threadsafe(_submit, item)

    def request_latest(
        self, topic: str, event_type: str, build: Callable[[], dict[str, Any]]
    ) -> None:
        add_pending(self.loop, 1)
        self.loop.call_soon_threadsafe(self._request_latest, topic, event_type, build)

    def _request_latest(
        self, topic: str, event_type: str, build: Callable[[], dict[str, Any]]
    ) -> None:
        latest = self._latest.get(topic)
        if latest is None:
            self._latest[topic] = _Latest(event_type, build)
            add_pending(self.loop, 1)
            self.loop.create_task(self._send_latest(topic))
        else:
            latest.event_type, latest.build, latest.dirty = event_type, build, True
        add_pending(self.loop, -1)

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
                await asyncio.sleep(runtime().config.snapshot_interval)
        finally:
            del self._latest[topic]
            add_pending(self.loop, -1)


def _submit(item: Outgoing) -> None:
    """Queue ``item`` with the running loop's sender (the publisher thread's, here)."""
    runtime().sender.submit(item)


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
    if outstanding():
        try:
            flush(timeout=2.0)
        except TimeoutError:
            logger.warning("realtime: exiting with %s event(s) unsent", outstanding())


# Flush while the interpreter can still run thread-pool work: snapshots are built with
# asyncio.to_thread, and concurrent.futures refuses new work once threading's shutdown hooks
# ran, which is before plain atexit handlers ("cannot schedule new futures after interpreter
# shutdown" from a short command such as seed_demo). Those hooks run last-registered first, so
# the thread pool's own hook is imported (registered) before ours.
threading._register_atexit(_flush_at_exit)  # type: ignore[attr-defined]
