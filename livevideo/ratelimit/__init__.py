"""Rate limits shared by every server process: the store is chosen by ``RATE_LIMITS["BACKEND"]``
(in-process by default, Redis in production; ``livevideo.ratelimit.conf``)."""

from __future__ import annotations

from django.utils.module_loading import import_string

from livevideo.ratelimit.base import RateLimiter
from livevideo.ratelimit.conf import rate_limits
from realtime.runtime import shared


def get_limiter() -> RateLimiter:
    """The configured limiter, built once per process (a part the real-time runtime keeps,
    rebuilt after ``RATE_LIMITS`` changes)."""
    return shared(get_limiter, _limiter_from_settings, setting="RATE_LIMITS")


def _limiter_from_settings() -> RateLimiter:
    config = rate_limits()
    return import_string(config.backend)(**config.options)


def retry_after(key: str, *, limit: int, window: float) -> float:
    """Count one attempt on ``key``; 0 when allowed, else the seconds to wait."""
    return get_limiter().hit(key, limit=limit, window=window)


def retry_after_many(keys: list[str], *, limit: int, window: float) -> list[float]:
    """``retry_after`` for each key in turn, in one round trip to the store."""
    return get_limiter().hit_many(keys, limit=limit, window=window)


def wait(key: str, *, limit: int) -> float:
    """Without counting: 0 while ``key`` has fewer than ``limit`` hits, else the seconds to wait."""
    return get_limiter().wait(key, limit=limit)
