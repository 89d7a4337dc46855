"""The runner's side of its worker processes: spawned, told commands, their messages read.

Each viewer worker (and the driver) has a pipe. Workers send ``("progress", info)`` often,
kept as the latest per worker, and other messages once each (``connected``, ``storm``,
``result``), kept in an inbox until every worker has sent its own.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from loadtest.progress import Progress
from loadtest.servers import usage


class Pipes:
    def __init__(self) -> None:
        self.pipes: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        self.workers: list[multiprocessing.process.BaseProcess] = []  # viewer workers
        self.progress = Progress()
        self.latest: dict[int, dict[str, Any]] = {}  # worker index -> last progress
        self.inbox: dict[str, dict[int, Any]] = {}  # message kind -> worker index -> info
        self.ctx = multiprocessing.get_context("spawn")

    def _spawn(self, target: Callable[..., None], cfg: Any, track: bool = True) -> Connection:
        ours, theirs = self.ctx.Pipe()
        process = self.ctx.Process(target=target, args=(cfg, theirs), daemon=True)
        process.start()
        self.processes.append(process)
        if track:
            self.pipes.append(ours)
            self.workers.append(process)
        return ours

    def _tell(self, command: tuple[Any, ...]) -> None:
        for pipe in self.pipes:
            pipe.send(command)

    def _drain(self) -> None:
        """Read what the workers sent: progress, and other messages into ``inbox``."""
        for i, pipe in enumerate(self.pipes):
            while not pipe.closed and pipe.poll():
                try:
                    kind, info = pipe.recv()
                except EOFError:  # the worker finished and exited
                    pipe.close()
                    break
                if kind == "progress":
                    self.latest[i] = info
                else:
                    self.inbox.setdefault(kind, {})[i] = info

    def _received(self, kind: str) -> list[Any] | None:
        """The ``kind`` message of every worker (taken out of the inbox), or None yet."""
        self._drain()
        got = self.inbox.get(kind, {})
        if len(got) < len(self.pipes):
            return None
        del self.inbox[kind]
        return [got[i] for i in range(len(self.pipes))]

    def _wait_for(self, want: str, phase: str, detail: Callable[[], str]) -> list[Any]:
        while (got := self._received(want)) is None:
            for process in self.processes:
                if process.exitcode not in (None, 0):
                    raise RuntimeError(f"a load worker died (exit code {process.exitcode})")
            done = len(self.inbox.get(want, {}))
            self.progress.show(phase, done, len(self.pipes), detail())
            time.sleep(0.1)
        self.progress.end()
        return got

    def _totals(self) -> dict[str, int]:
        self._drain()
        return {
            key: sum(info[key] for info in self.latest.values())
            for key in ("connected", "deliveries", "frames", "reconnects")
        }

    def _client_cpu(self) -> float:
        return sum(usage(p.pid).cpu_seconds for p in self.workers if p.is_alive() and p.pid)
