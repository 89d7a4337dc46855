"""Rate limits shared by every server process: the store is chosen by
``settings.RATE_LIMITS["BACKEND"]`` (in-process by default, Redis in production)."""

from __future__ import annotations

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from livevideo.ratelimit.base import RateLimiter

_limiter: RateLimiter | None = None


def get_limiter() -> RateLimiter:
    """The configured limiter, built once per process."""
    global _limiter
    if _limiter is None:
        config = settings.RATE_LIMITS
        _limiter = import_string(config["BACKEND"])(**config.get("OPTIONS", {}))
    return _limiter


@receiver(setting_changed)
def _reset_limiter(*, setting: str, **kwargs: object) -> None:
    global _limiter
    if setting == "RATE_LIMITS":
        _limiter = None


def retry_after(key: str, *, limit: int, window: float) -> float:
    """Count one attempt on ``key``; 0 when allowed, else the seconds to wait."""
    return get_limiter().hit(key, limit=limit, window=window)


def retry_after_many(keys: list[str], *, limit: int, window: float) -> list[float]:
    """``retry_after`` for each key in turn, in one round trip to the store."""
    return get_limiter().hit_many(keys, limit=limit, window=window)


def wait(key: str, *, limit: int) -> float:
    """Without counting: 0 while ``key`` has fewer than ``limit`` hits, else the seconds to wait."""
    return get_limiter().wait(key, limit=limit)
