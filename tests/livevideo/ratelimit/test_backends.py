"""One contract, run against the in-process store and real Redis."""

from __future__ import annotations

import time

import pytest

from livevideo.ratelimit.base import RateLimiter
from livevideo.ratelimit.memory import MemoryRateLimiter
from livevideo.ratelimit.redis import RedisRateLimiter


class RateLimiterContract:
    """Subclasses provide ``limiter`` and ``advance(seconds)``."""

    limiter: RateLimiter

    def advance(self, seconds: float) -> None:
        raise NotImplementedError

    def test_allows_up_to_the_limit(self):
        assert [self.limiter.hit("k", limit=3, window=10) for _ in range(3)] == [0, 0, 0]

    def test_refuses_over_the_limit_with_the_wait(self):
        for _ in range(2):
            self.limiter.hit("k", limit=2, window=10)
        wait = self.limiter.hit("k", limit=2, window=10)
        assert 0 < wait <= 10

    def test_keys_are_independent(self):
        self.limiter.hit("a", limit=1, window=10)
        assert self.limiter.hit("b", limit=1, window=10) == 0
        assert self.limiter.hit("a", limit=1, window=10) > 0

    def test_many_hits_count_in_turn_as_single_ones_would(self):
        self.limiter.hit("a", limit=2, window=10)
        waits = self.limiter.hit_many(["a", "b", "a", "b", "b"], limit=2, window=10)
        assert [wait > 0 for wait in waits] == [False, False, True, False, True]
        assert all(0 < wait <= 10 for wait in waits if wait)

    def test_window_resets(self):
        self.limiter.hit("k", limit=1, window=0.2)
        assert self.limiter.hit("k", limit=1, window=0.2) > 0
        self.advance(0.3)
        assert self.limiter.hit("k", limit=1, window=0.2) == 0

    def test_wait_reads_without_counting(self):
        assert self.limiter.wait("k", limit=2) == 0
        self.limiter.hit("k", limit=2, window=10)
        assert self.limiter.wait("k", limit=2) == 0
        self.limiter.hit("k", limit=2, window=10)
        assert 0 < self.limiter.wait("k", limit=2) <= 10
        assert self.limiter.wait("k", limit=3) == 0
        self.limiter.clear("k")
        assert self.limiter.wait("k", limit=2) == 0

    def test_clear(self):
        self.limiter.hit("k", limit=1, window=10)
        self.limiter.clear("k")
        assert self.limiter.hit("k", limit=1, window=10) == 0


class TestMemoryRateLimiter(RateLimiterContract):
    @pytest.fixture(autouse=True)
    def _limiter(self):
        self.now = 1000.0
        self.limiter = MemoryRateLimiter(clock=lambda: self.now)

    def advance(self, seconds: float) -> None:
        self.now += seconds


class TestRedisRateLimiter(RateLimiterContract):
    @pytest.fixture(autouse=True)
    def _limiter(self, redis_url):
        self.limiter = RedisRateLimiter(url=redis_url)

    def advance(self, seconds: float) -> None:
        time.sleep(seconds)  # Redis keeps its own clock; the windows here are short.

    def test_shared_between_clients(self, redis_url):
        other = RedisRateLimiter(url=redis_url)
        self.limiter.hit("k", limit=1, window=10)
        assert other.hit("k", limit=1, window=10) > 0


@pytest.mark.slow
class TestRedisClusterRateLimiter(RateLimiterContract):
    @pytest.fixture(autouse=True)
    def _limiter(self, redis_cluster_url):
        self.limiter = RedisRateLimiter(url=redis_cluster_url)

    def advance(self, seconds: float) -> None:
        time.sleep(seconds)


def test_redis_down_lets_hits_through_quickly():
    limiter = RedisRateLimiter(url="redis://127.0.0.1:1/0", timeout=0.2)
    started = time.monotonic()
    assert limiter.hit("k", limit=0, window=10) == 0
    assert time.monotonic() - started < 2


def test_redis_down_lets_many_hits_through():
    limiter = RedisRateLimiter(url="redis://127.0.0.1:1/0", timeout=0.2)
    assert limiter.hit_many(["k", "k"], limit=0, window=10) == [0, 0]
