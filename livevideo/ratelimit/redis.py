"""Rate limits in Redis, exact across every process of a deployment."""

from __future__ import annotations

import logging

import redis

from livevideo.ratelimit.base import RateLimiter

logger = logging.getLogger(__name__)

# INCR and the expiry in one step, so a crash between them can never leave an endless window.
HIT_SCRIPT = """
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if hits <= tonumber(ARGV[2]) then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return ttl
"""

WAIT_SCRIPT = """
local hits = tonumber(redis.call('GET', KEYS[1]) or '0')
if hits < tonumber(ARGV[1]) then return 0 end
return math.max(redis.call('PTTL', KEYS[1]), 1)
"""


class RedisRateLimiter(RateLimiter):
    def __init__(self, *, url: str, prefix: str = "ratelimit:", timeout: float = 0.5) -> None:
        self._redis = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._prefix = prefix
        self._hit = self._redis.register_script(HIT_SCRIPT)
        self._wait = self._redis.register_script(WAIT_SCRIPT)

    def hit(self, key: str, *, limit: int, window: float) -> float:
        try:
            wait_ms = self._hit(keys=[self._prefix + key], args=[int(window * 1000), limit])
        except redis.RedisError:
            logger.warning("rate limit store unavailable; letting %s through", key)
            return 0.0
        return int(wait_ms) / 1000

    def hit_many(self, keys: list[str], *, limit: int, window: float) -> list[float]:
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            self._hit(keys=[self._prefix + key], args=[int(window * 1000), limit], client=pipe)
        try:
            waits_ms = pipe.execute()
        except redis.RedisError:
            logger.warning("rate limit store unavailable; letting %s hits through", len(keys))
            return [0.0] * len(keys)
        return [int(wait_ms) / 1000 for wait_ms in waits_ms]

    def wait(self, key: str, *, limit: int) -> float:
        try:
            wait_ms = self._wait(keys=[self._prefix + key], args=[limit])
        except redis.RedisError:
            logger.warning("rate limit store unavailable; letting %s through", key)
            return 0.0
        return int(wait_ms) / 1000

    def clear(self, key: str) -> None:
        try:
            self._redis.delete(self._prefix + key)
        except redis.RedisError:
            logger.warning("rate limit store unavailable; could not clear %s", key)
