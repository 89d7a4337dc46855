"""Rate limits in Redis, exact across every process of a deployment, on one Redis or a Redis
Cluster (each command touches one key, so a batch is one round trip per node)."""

from __future__ import annotations

import logging

import redis

from livevideo.ratelimit.base import RateLimiter
from realtime.cluster import sync_client

logger = logging.getLogger(__name__)


class RedisRateLimiter(RateLimiter):
    def __init__(self, *, url: str, prefix: str = "ratelimit:", timeout: float = 0.5) -> None:
        self._redis = sync_client(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._prefix = prefix

    def hit(self, key: str, *, limit: int, window: float) -> float:
        return self.hit_many([key], limit=limit, window=window)[0]

    def hit_many(self, keys: list[str], *, limit: int, window: float) -> list[float]:
        # Every hit sets the window's expiry if the key has none (NX), so a window can never
        # outlive its length, even after a crash between a first INCR and its expiry. What is
        # left of a window is read only for the hits over the limit: a second round trip for
        # refusals alone.
        window_ms = int(window * 1000)
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            pipe.incr(self._prefix + key)
            pipe.pexpire(self._prefix + key, window_ms, nx=True)
        try:
            hits = pipe.execute()[0::2]
            over = [i for i, count in enumerate(hits) if count > limit]
            left = self._time_left([keys[i] for i in over]) if over else []
        except redis.RedisError:
            logger.warning("rate limit store unavailable; letting %s hit(s) through", len(keys))
            return [0.0] * len(keys)
        waits = [0.0] * len(keys)
        for i, ttl in zip(over, left, strict=True):
            waits[i] = max(ttl, 0) / 1000 or window
        return waits

    def _time_left(self, keys: list[str]) -> list[int]:
        """Each key's window's milliseconds left, in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            pipe.pttl(self._prefix + key)
        return pipe.execute()

    def wait(self, key: str, *, limit: int) -> float:
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(self._prefix + key)
        pipe.pttl(self._prefix + key)
        try:
            hits, ttl = pipe.execute()
        except redis.RedisError:
            logger.warning("rate limit store unavailable; letting %s through", key)
            return 0.0
        return 0.0 if int(hits or 0) < limit else max(ttl, 1) / 1000

    def clear(self, key: str) -> None:
        try:
            self._redis.delete(self._prefix + key)
        except redis.RedisError:
            logger.warning("rate limit store unavailable; could not clear %s", key)
