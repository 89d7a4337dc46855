"""The orchestrator: data, servers, viewer workers and the driver, phase by phase.

Phases: set up a fresh live broadcast and the driver's users (through the services), start the
servers (or target running ones), connect every viewer (workers, ``spawn``ed), drive reactions
and comments for ``duration`` seconds while measuring (optionally dropping every connection at
once half-way: the reconnect storm), let the coalesced totals settle, then check every viewer
against what the database stored.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from loadtest import driver, worker
from loadtest.servers import Server, Usage, server_env, usage
from loadtest.stats import Histogram, LedgerTotals, rate

T = TypeVar("T")

SETTLE_SECONDS = 1.0  # > the snapshot interval: the last totals reach every viewer
MAX_SETTLE_SECONDS = 30.0  # a server still storing after this is reported as it stands


def settled(
    read: Callable[[], T],
    interval: float,
    limit: float,
    sleep: Callable[[float], None] = time.sleep,
    steady: int = 3,
) -> T:
    """``read()`` once ``steady`` reads ``interval`` apart agree (or after ``limit`` seconds):
    what the database holds when the server has stored everything it was sent, and the last
    change has had ``interval`` to reach the viewers. One quiet interval is not enough: a
    server that fell behind stores queued WebSocket taps in batches that can take longer."""
    sleep(interval)
    value, waited, agreeing = read(), interval, 1
    while waited < limit and agreeing < steady:
        sleep(interval)
        waited += interval
        again = read()
        agreeing = agreeing + 1 if again == value else 1
        value = again
    return value


@dataclass
class LoadConfig:
    database_url: str
    redis_url: str
    viewers: int = 10_000
    sse_percent: int = 10
    workers: int = 4
    reactions_per_sec: float = 100.0
    comments_per_sec: float = 5.0
    duration: float = 60.0
    server: str = "uvicorn"
    servers: int = 1
    host: str = "127.0.0.1"
    port: int = 8100
    targets: list[int] = field(default_factory=list)  # ports of running servers to use instead
    users: int = 100
    connections: int = 32
    storm: bool = False
    ingest: bool = False
    drive: str = "rest"  # how reactions and comments are sent: "rest", "ws" or "page"
    label: str = ""


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = sys.stderr if stream is None else stream  # today's, not import time's
        # Not a terminal (CI, a log file): a plain line every few seconds, not a redraw.
        self.tty = self.stream.isatty()
        self._last = 0.0

    def show(self, phase: str, done: float, total: float, detail: str) -> None:
        if not self.tty:
            if time.monotonic() - self._last < 5:
                return
            self._last = time.monotonic()
        width = 24
        filled = int(width * min(1.0, done / total)) if total else width
        bar = "#" * filled + "." * (width - filled)
        line = f"{phase:<7} [{bar}] {detail}"
        self.stream.write(f"\r{line:<120}"[:121] if self.tty else line + "\n")
        self.stream.flush()

    def end(self) -> None:
        self._last = 0.0
        self.stream.write("\n" if self.tty else "")
        self.stream.flush()


class Run:
    def __init__(
        self, config: LoadConfig, setup: Callable[[LoadConfig], dict[str, Any]], logs: Path
    ):
        self.config = config
        self.setup = setup
        self.logs = logs
        self.servers: list[Server] = []
        self.pipes: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        self.workers: list[multiprocessing.process.BaseProcess] = []  # viewer workers
        self.progress = Progress()
        self.latest: dict[int, dict[str, Any]] = {}  # worker index -> last progress
        self.inbox: dict[str, dict[int, Any]] = {}  # message kind -> worker index -> info
        self.ctx = multiprocessing.get_context("spawn")

    def execute(self) -> dict[str, Any]:
        try:
            return self._execute()
        finally:
            for process in self.processes:
                process.join(1)  # they exit after their result; not when interrupted
                if process.is_alive():
                    process.terminate()
            for server in self.servers:
                server.stop()

    def _execute(self) -> dict[str, Any]:
        config = self.config
        data = self.setup(config)
        self._start_servers()
        report: dict[str, Any] = {"config": asdict(config), "broadcast": data["broadcast_id"]}
        report["rss_idle_kb"] = self._rss()
        if not config.ingest:
            report["connect"] = self._connect(data["broadcast_id"])
            report["rss_connected_kb"] = self._rss()
        before, clients_before = self._usage(), self._client_cpu()
        drive = self._drive(data)
        after, clients_after = self._usage(), self._client_cpu()
        report["drive"] = drive
        report["server_cpu"] = _cpu(before, after, drive["seconds"])
        # The viewer workers' own CPU (cores), to show whether the load generator was the limit.
        report["client_cpu_share"] = rate(clients_after - clients_before, drive["seconds"])
        # WebSocket messages still queued in the server are stored meanwhile.
        report["stored"] = stored = settled(data["stored"], SETTLE_SECONDS, MAX_SETTLE_SECONDS)
        if config.ingest:
            return report
        report["stored_totals"] = totals = self._stored_totals(data["broadcast_id"])
        report["viewers"] = self._finish(stored, totals)
        return report

    # Phases ----------------------------------------------------------------------------

    def _start_servers(self) -> None:
        config = self.config
        if config.targets:
            self.servers = [Server(config.host, port) for port in config.targets]
        else:
            env = server_env(database_url=config.database_url, redis_url=config.redis_url)
            self.servers = [
                Server.start(config.server, config.host, config.port + i, env, self.logs)
                for i in range(config.servers)
            ]
        for server in self.servers:
            server.wait_ready()

    def _connect(self, broadcast_id: int) -> dict[str, Any]:
        config = self.config
        ports = [server.port for server in self.servers]
        per_worker = -(-config.viewers // config.workers)
        started = time.monotonic()
        for i in range(config.workers):
            first = i * per_worker
            count = min(per_worker, config.viewers - first)
            if count <= 0:
                break
            cfg = worker.WorkerConfig(
                config.host, ports, broadcast_id, first, count, config.sse_percent
            )
            self._spawn(worker.main, cfg)
        infos = self._wait_for("connected", "connect", self._connected)
        seconds = time.monotonic() - started
        ok = sum(info["ok"] for info in infos)
        return {"seconds": seconds, "ok": ok, "per_sec": rate(ok, seconds)}

    def _drive(self, data: dict[str, Any]) -> dict[str, Any]:
        config = self.config
        cfg = driver.DriverConfig(
            config.host,
            [server.port for server in self.servers],
            data["broadcast_id"],
            data["tokens"],
            config.reactions_per_sec,
            config.comments_per_sec,
            config.duration,
            connections=config.connections,
            ingest=config.ingest,
            transport=config.drive,
        )
        driver_pipe = self._spawn(driver.main, cfg, track=False)
        self._tell(("measure", True))
        start = self._totals()
        started = time.monotonic()
        driver_pipe.send(("start",))
        storm_started: float | None = None
        storm: list[Any] | None = None
        sent: dict[str, int] = {}
        while True:
            self._drain()
            if driver_pipe.poll(0.25):
                kind, info = driver_pipe.recv()
                if kind == "result":
                    break
                sent = info
            elapsed = time.monotonic() - started
            if config.storm and storm_started is None and elapsed >= config.duration / 2:
                self._tell(("storm",))  # every viewer drops and resumes; events keep flowing
                storm_started = time.monotonic()
            if storm_started is not None and storm is None:
                storm = self._received("storm")
            self.progress.show(
                "drive", elapsed, config.duration, self._detail(start, started, sent)
            )
        self.progress.end()
        seconds = time.monotonic() - started
        if storm_started is not None and storm is None:
            storm = self._wait_for("storm", "storm", self._connected)
        self._tell(("measure", False))
        end = self._totals()
        return {
            "seconds": seconds,
            "driver": info,
            "deliveries": end["deliveries"] - start["deliveries"],
            "frames": end["frames"] - start["frames"],
            "deliveries_per_sec": rate(end["deliveries"] - start["deliveries"], seconds),
            "frames_per_sec": rate(end["frames"] - start["frames"], seconds),
            # The slowest worker's time from the drop until its last viewer had its first
            # frame again (hello and the replay of what it missed).
            "storm": storm
            and {
                "seconds": max(info["seconds"] for info in storm),
                "ok": sum(info["ok"] for info in storm),
            },
        }

    def _finish(self, stored: dict[str, int], totals: dict[str, Any]) -> dict[str, Any]:
        """Every viewer against the database: its comments, and its last totals."""
        expect = {
            "expected_comments": stored["comments"],
            "expected_sum": stored["comment_sum"],
            "stored_totals": totals,
        }
        self._tell(("finish", expect))
        results = self._wait_for("result", "finish", lambda: "")
        histogram = Histogram()
        ledgers = LedgerTotals()
        points: list[tuple[float, float]] = []
        close_codes: dict[str, int] = {}
        for result in results:
            histogram.merge(Histogram.from_dict(result["histogram"]))
            ledgers.add(LedgerTotals(**result["ledgers"]))
            points.extend(result["points"])
            for code, n in result["close_codes"].items():
                close_codes[str(code)] = close_codes.get(str(code), 0) + n
        return {
            "latency_ms": histogram.summary(),
            "latency_histogram": histogram.to_dict(),
            "ledgers": asdict(ledgers),
            "exact": ledgers.exact,
            "reconnects": sum(r["reconnects"] for r in results),
            "connect_failures": sum(r["connect_failures"] for r in results),
            "close_codes": close_codes,
            "points": points,
        }

    # Plumbing ----------------------------------------------------------------------------

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

    def _connected(self) -> str:
        return f"viewers connected {self._totals()['connected']}/{self.config.viewers}"

    def _detail(self, start: dict[str, int], started: float, sent: dict[str, int]) -> str:
        now = self._totals()
        elapsed = max(time.monotonic() - started, 1e-9)
        histogram = Histogram()
        for info in self.latest.values():
            histogram.merge(Histogram.from_dict(info["histogram"]))
        p99 = histogram.percentile(99)
        return (
            f"{rate(now['deliveries'] - start['deliveries'], elapsed):,.0f} deliv/s "
            f"{rate(now['frames'] - start['frames'], elapsed):,.0f} frames/s "
            f"p99 {p99 or 0:,.0f} ms | posted {sum(sent.values()):,} | "
            f"viewers {now['connected']:,} reconnects {now['reconnects']}"
        )

    def _client_cpu(self) -> float:
        return sum(usage(p.pid).cpu_seconds for p in self.workers if p.is_alive() and p.pid)

    def _usage(self) -> list[Usage | None]:
        return [server.usage() for server in self.servers]

    def _rss(self) -> list[int | None]:
        return [u.rss_kb if u else None for u in self._usage()]

    def _stored_totals(self, broadcast_id: int) -> dict[str, Any]:
        url = f"{self.servers[0].url}/api/broadcasts/{broadcast_id}/reactions/"
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)


def _cpu(before: list[Usage | None], after: list[Usage | None], seconds: float) -> list[Any]:
    """Each server's CPU seconds and share of one core over the drive."""
    out: list[Any] = []
    for b, a in zip(before, after, strict=True):
        if a is None or b is None:
            out.append(None)
        else:
            used = a.cpu_seconds - b.cpu_seconds
            out.append({"seconds": used, "share": rate(used, seconds)})
    return out


def run(
    config: LoadConfig, setup: Callable[[LoadConfig], dict[str, Any]], logs: Path
) -> dict[str, Any]:
    """Run one load test; ``setup`` makes its data (see the management command)."""
    return Run(config, setup, logs).execute()
