"""Streams end when the server is told to stop, so their clients reconnect elsewhere at once.

uvicorn answers SIGTERM by closing its WebSocket connections with 1012 and then waits for
HTTP responses to finish, and an SSE response never finishes by itself: a process with one
SSE viewer would never stop (until ``--timeout-graceful-shutdown`` cancels it). ``stopping``
is set by the first SIGTERM or SIGINT, and the SSE endpoint ends its response then, telling
the client to come back soon (docs/operations.md, "Restarts").

The server's own handler is kept: ours runs first and then calls it. It is installed from the
first stream, on the main thread, after the server has installed its handlers.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)
# The last of an SSE response when the server stops: reconnect after 100 ms (another process).
GOODBYE = b"retry: 100\n\n"

_stopping: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}
_installed = False


def stopping() -> asyncio.Event:
    """This loop's event, set once the process has been told to stop."""
    loop = asyncio.get_running_loop()
    event = _stopping.get(loop)
    if event is None:
        event = _stopping[loop] = asyncio.Event()
        _install()
    return event


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
    for loop, event in list(_stopping.items()):
        if not loop.is_closed():
            loop.call_soon_threadsafe(event.set)
