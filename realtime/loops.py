"""State kept per event loop.

A server process runs one event loop, but tests run one loop per test, and asyncio objects
(tasks, futures, connections) belong to the loop that made them. So hubs, trackers, keep-alive
tickers and publishers are kept per loop, and those of loops that have closed are dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def for_loop(
    registry: dict[asyncio.AbstractEventLoop, T],
    loop: asyncio.AbstractEventLoop,
    make: Callable[[], T],
) -> T:
    """``registry[loop]``, made with ``make()`` on first use; entries of closed loops go then."""
    value = registry.get(loop)
    if value is None:
        for stale in [other for other in registry if other.is_closed()]:
            del registry[stale]
        value = registry[loop] = make()
    return value
