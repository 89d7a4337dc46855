"""Streams end when the server is told to stop, so their clients reconnect elsewhere at once.

uvicorn answers SIGTERM by closing its WebSocket connections with 1012 and then waits for
HTTP responses to finish, and an SSE response never finishes by itself: a process with one
SSE viewer would never stop (until ``--timeout-graceful-shutdown`` cancels it). A stream
``watch``es for the first SIGTERM or SIGINT: its callback is called then (on its loop), and the
SSE endpoint ends its response, telling the client to come back soon (docs/operations.md,
"Restarts"). The callbacks are kept in a set per loop, so a stream costs one entry in it
rather than a task waiting for an event.

The server's own handler is kept: ours runs first and then calls it. It is installed from the
first stream, on the main thread, after the server has installed its handlers.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)
# The last of an SSE response when the server stops: reconnect after 100 ms (another process).
GOODBYE = b"retry: 100\n\n"

_watchers: dict[asyncio.AbstractEventLoop, set[Callable[[], None]]] = {}
_stopped: set[asyncio.AbstractEventLoop] = set()  # loops told to stop
_installed = False


def watch(on_stop: Callable[[], None]) -> None:
    """Call ``on_stop`` on this loop once the process has been told to stop (soon, if it has
    been already), unless ``forget`` comes first."""
    loop = asyncio.get_running_loop()
    if loop in _stopped:
        loop.call_soon(on_stop)
        return
    watchers = _watchers.get(loop)
    if watchers is None:
        watchers = _watchers[loop] = set()
        _install()
    watchers.add(on_stop)


def forget(on_stop: Callable[[], None]) -> None:
    """Stop watching with ``on_stop`` (idempotent)."""
    watchers = _watchers.get(asyncio.get_running_loop())
    if watchers is not None:
        watchers.discard(on_stop)


def _install() -> None:
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    _installed = True
    for sig in SIGNALS:
        previous = signal.getsignal(sig)
        signal.signal(sig, _chained(previous))


def _chained(previous: Any) -> Any:
    def handle(sig: int, frame: FrameType | None) -> None:
        _announce()
        if callable(previous):
            previous(sig, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)

    return handle


def _announce() -> None:
    for loop in list(_watchers):
        if not loop.is_closed():
            loop.call_soon_threadsafe(_stop, loop)


def _stop(loop: asyncio.AbstractEventLoop) -> None:
    _stopped.add(loop)
    for on_stop in list(_watchers.pop(loop, ())):
        on_stop()
