"""A rolling restart during a run, as a deploy does it behind the proxy: each server process
in turn stopped (SIGTERM, and waited for until it exits) and started again on its port, while
nginx sends new connections to the others; and the viewer count watched meanwhile and after,
until it is the true number again (docs/operations.md, "Restarts").
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import Any

from loadtest.servers import Server

COUNT_INTERVAL = 0.5  # seconds between two reads of the viewer count
COUNT_STEADY = 3  # reads in a row at the true number: the count is right again
# Longer than heartbeat + grace (25 s by default): a ghost left by a stopped process lapses.
COUNT_TIMEOUT = 40.0


class RollingRestart:
    """Restarts ``servers`` one after another in a thread, ``pause`` seconds apart (from one
    answering again to stopping the next); another thread reads ``count_url``."""

    def __init__(self, servers: list[Server], count_url: str, expected: int, pause: float) -> None:
        self.servers = servers
        self.pause = pause
        self.count_url = count_url
        self.expected = expected
        self.steps: list[dict[str, float]] = []
        self.counts: list[tuple[float, int | None]] = []  # (seconds since the start, count)
        self.started = 0.0
        self.ended: float | None = None  # when the last server answered again
        self.error: BaseException | None = None
        self._restarts = threading.Thread(target=self._restart_all, daemon=True)
        self._watch = threading.Thread(target=self._watch_count, daemon=True)

    def start(self) -> RollingRestart:
        self.started = time.monotonic()
        self._restarts.start()
        self._watch.start()
        return self

    @property
    def restarted(self) -> bool:
        """Every server was restarted and answers (or a restart failed: see ``result``)."""
        return not self._restarts.is_alive()

    def _restart_all(self) -> None:
        try:
            for i, server in enumerate(self.servers):
                if i:
                    time.sleep(self.pause)
                began = time.monotonic() - self.started
                self.steps.append({"port": server.port, "at": began, **server.restart()})
        except BaseException as failed:  # reported by ``result``, not lost in the thread
            self.error = failed
        self.ended = time.monotonic()

    def _watch_count(self) -> None:
        """Read the count until it has been right ``COUNT_STEADY`` times in a row after the
        restart, or ``COUNT_TIMEOUT`` seconds after it."""
        steady = 0
        while True:
            now = time.monotonic()
            self.counts.append((now - self.started, self._count()))
            after = self.ended is not None and self.counts[-1][0] >= self.ended - self.started
            steady = steady + 1 if after and self.counts[-1][1] == self.expected else 0
            if steady >= COUNT_STEADY or (after and now - self.ended > COUNT_TIMEOUT):  # type: ignore[operator]
                return
            time.sleep(COUNT_INTERVAL)

    def _count(self) -> int | None:
        try:
            with urllib.request.urlopen(self.count_url, timeout=5) as response:
                return int(json.load(response)["count"])
        except OSError:
            return None  # no answer (counted as such in the report)

    def result(self) -> dict[str, Any]:
        """The steps and the count, once the count is right again (or given up on)."""
        self._restarts.join()
        self._watch.join()
        if self.error is not None:
            raise RuntimeError(f"the rolling restart failed: {self.error}") from self.error
        assert self.ended is not None
        end = self.ended - self.started
        during = [c for t, c in self.counts if t < end and c is not None]
        after = [(t - end, c) for t, c in self.counts if t >= end]
        wrong = [t for t, c in after if c != self.expected]
        return {
            "seconds": end,
            "steps": self.steps,
            "count_expected": self.expected,
            "count_during": [min(during, default=None), max(during, default=None)],
            "count_at_end": after[0][1] if after else None,
            "count_last": after[-1][1] if after else None,
            # From the last server back until the count was right for good: 0 if it already was.
            "count_right_after_s": (max(wrong) + COUNT_INTERVAL if wrong else 0.0)
            if after and after[-1][1] == self.expected
            else None,
            "unanswered_reads": sum(1 for _, c in self.counts if c is None),
            "counts": [(round(t, 1), c) for t, c in self.counts],
        }
