"""A rolling restart during a run, as a deploy does it behind the proxy (docs/operations.md,
"A rolling restart"): each server process in turn taken out of nginx (marked ``down``,
``nginx -s reload``, and waited for until nginx sends it nothing new), stopped (SIGTERM, and
waited for until it exits), started again on its port, and put back once it answers
``/readyz`` (in the same reload that takes the next one out); then the old nginx workers
waited for until they have exited. Without ``drain``, round 7's procedure: no reloads, each
server stopped ``fail_timeout`` after the previous one answered again. The viewer count is
watched meanwhile and after, until it is the true number again.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import Any

from loadtest.proxy import Proxy, fail_timeout
from loadtest.servers import Server

COUNT_INTERVAL = 0.5  # seconds between two reads of the viewer count
COUNT_STEADY = 3  # reads in a row at the true number: the count is right again
# Longer than heartbeat + grace (25 s by default): a ghost left by a stopped process lapses.
COUNT_TIMEOUT = 40.0
READY_TIMEOUT = 30.0


def wait_ready(server: Server) -> float:
    """Until the server answers ``/readyz`` with 200 (its database, Redis and subscription are
    up): only then may nginx send it viewers. The seconds waited."""
    started = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(f"{server.url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            pass  # 503 (urllib raises it) or no answer yet
        if time.monotonic() - started > READY_TIMEOUT:
            raise TimeoutError(f"server on port {server.port} not ready in {READY_TIMEOUT:.0f} s")
        time.sleep(0.1)


class RollingRestart:
    """Restarts ``servers`` one after another behind ``proxy`` in a thread; another thread
    reads ``count_url``."""

    def __init__(
        self,
        servers: list[Server],
        proxy: Proxy,
        count_url: str,
        expected: int,
        *,
        drain: bool = True,
    ) -> None:
        self.servers, self.proxy, self.drain = servers, proxy, drain
        self.count_url = count_url
        self.expected = expected
        self.steps: list[dict[str, Any]] = []
        self.counts: list[tuple[float, int | None]] = []  # (seconds since the start, count)
        self.started = 0.0
        self.last_back: float | None = None  # the last server answered again (and put back)
        self.old_workers_gone_s: float | None = None  # from then until no old nginx worker
        self.ended: float | None = None  # when the restart was over (old workers gone)
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
            if self.drain:
                self._restart_drained()
            else:
                self._restart_undrained()
        except BaseException as failed:  # reported by ``result``, not lost in the thread
            self.error = failed
        self.ended = time.monotonic()

    def _restart_drained(self) -> None:
        for server in self.servers:
            self.steps.append(self._drained_restart(server))
        self.proxy.reload(down=())  # the last one back
        self.last_back = time.monotonic()
        self.old_workers_gone_s = self.proxy.wait_old_workers_gone()

    def _restart_undrained(self) -> None:
        """Round 7's way: SIGTERM with the server still in nginx, the next one only once nginx
        takes this one back (``fail_timeout`` after it refused a connection)."""
        for i, server in enumerate(self.servers):
            if i:
                time.sleep(fail_timeout() + 1)
            began = time.monotonic() - self.started
            self.steps.append({"port": server.port, "at": began, **server.restart()})
        self.last_back = time.monotonic()

    def _drained_restart(self, server: Server) -> dict[str, Any]:
        """Out of nginx (the previous one back in the same reload), drained, restarted, ready."""
        step: dict[str, Any] = {"port": server.port, "at": time.monotonic() - self.started}
        step["reload"] = self.proxy.reload(down=[server.port])
        drained = self.proxy.drain(server.port)
        step["drain"], step["new_connections"] = drained["seconds"], drained["new_connections"]
        step.update(server.restart())  # "stop" (SIGTERM until it exited), "start"
        step["ready"] = wait_ready(server)
        return step

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
        assert self.last_back is not None
        return {
            "seconds": end,
            "drain": self.drain,
            # From the first step until the last server was back in nginx, and from then until
            # the old nginx workers had exited (they close what they hold after
            # worker_shutdown_timeout); "seconds" is the two together.
            "last_back_s": self.last_back - self.started,
            "old_workers_gone_s": self.old_workers_gone_s,
            "steps": self.steps,
            "count_expected": self.expected,
            "count_during": [min(during, default=None), max(during, default=None)],
            "count_at_end": after[0][1] if after else None,
            "count_last": after[-1][1] if after else None,
            # From the end until the count was right for good: 0 if it already was.
            "count_right_after_s": (max(wrong) + COUNT_INTERVAL if wrong else 0.0)
            if after and after[-1][1] == self.expected
            else None,
            "unanswered_reads": sum(1 for _, c in self.counts if c is None),
            "counts": [(round(t, 1), c) for t, c in self.counts],
        }
