"""In-process rate limits (the embedded default: one process, nothing to share)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from livevideo.ratelimit.base import RateLimiter


class MemoryRateLimiter(RateLimiter):
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window end, hits)
        self._lock = threading.Lock()

    def hit(self, key: str, *, limit: int, window: float) -> float:
        now = self._clock()
        with self._lock:
            end, hits = self._windows.get(key, (0.0, 0))
            if now >= end:
                self._drop_expired(now)
                end, hits = now + window, 0
            hits += 1
            self._windows[key] = (end, hits)
        return 0.0 if hits <= limit else end - now

    def wait(self, key: str, *, limit: int) -> float:
        now = self._clock()
        with self._lock:
            end, hits = self._windows.get(key, (0.0, 0))
        return end - now if now < end and hits >= limit else 0.0

    def clear(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)

    def _drop_expired(self, now: float) -> None:
        # Amortised: only when some window rolls over, and only past a size worth sweeping.
        if len(self._windows) > 10_000:
            self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
