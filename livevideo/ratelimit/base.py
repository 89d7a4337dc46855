"""The contract every rate-limit store keeps."""

from __future__ import annotations


class RateLimiter:
    """Fixed-window counters: at most ``limit`` hits per ``window`` seconds per key.

    A store must count exactly across every process that shares it, and must never make a
    caller wait on a broken store: when it cannot answer it lets the hit through (fail open),
    because refusing every comment while Redis restarts is worse than a short burst.
    """

    def hit(self, key: str, *, limit: int, window: float) -> float:
        """Count one hit on ``key``; return 0.0 if it is within the limit, else the seconds
        until the window resets (the caller's ``Retry-After``)."""
        raise NotImplementedError("subclasses of RateLimiter must provide a hit() method")

    def hit_many(self, keys: list[str], *, limit: int, window: float) -> list[float]:
        """``hit`` on each key in turn (a key may repeat); a store may do it in one round trip."""
        return [self.hit(key, limit=limit, window=window) for key in keys]

    def wait(self, key: str, *, limit: int) -> float:
        """Without counting: 0.0 while ``key`` has fewer than ``limit`` hits in its window,
        else the seconds until the window resets."""
        raise NotImplementedError("subclasses of RateLimiter must provide a wait() method")

    def clear(self, key: str) -> None:
        """Forget the count for ``key``."""
        raise NotImplementedError("subclasses of RateLimiter must provide a clear() method")
