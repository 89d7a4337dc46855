"""The orchestrator: data, servers, viewer workers and the driver, phase by phase.

Phases: set up fresh live broadcasts and the driver's users (through the services), start the
servers (or target running ones), connect every viewer (workers, ``spawn``ed), optionally hold
a quiet phase (everything subscribed, nothing sent: what idle topics cost), drive reactions
and comments for ``duration`` seconds while measuring (optionally dropping every connection at
once half-way: the reconnect storm), let the coalesced totals settle, then check every viewer
against what the database stored. The standard scenario has one broadcast that every viewer
watches; with ``broadcasts`` > 1 the viewers are spread Zipf-like (``loadtest/audience.py``)
and Redis is watched too (``loadtest/redisprobe.py``).
"""

from __future__ import annotations

import json
import multiprocessing
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from loadtest import driver, worker
from loadtest.audience import layout, zipf_audiences
from loadtest.progress import Progress
from loadtest.redisprobe import RedisProbe, command_rates
from loadtest.servers import Server, Usage, server_env, usage
from loadtest.stats import Histogram, rate
from loadtest.tally import tally

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
    broadcasts: int = 1  # live at once; the viewers spread over them Zipf-like
    zipf: float = 1.25  # the spread's exponent: 1,000 broadcasts, 20,000 viewers -> ~4,900 on one
    sockets_per_broadcast: int = 0  # the WebSocket driver's senders on each (driver.py)
    quiet: float = 0.0  # seconds everything is subscribed and nothing sent, before the drive


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
        self.audiences: dict[int, int] = {}  # broadcast -> its viewers, hottest first
        self.redis = RedisProbe(config.redis_url) if config.broadcasts > 1 else None

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
            if self.redis is not None:
                self.redis.close()

    def _execute(self) -> dict[str, Any]:
        config = self.config
        data = self.setup(config)
        ids = data["broadcast_ids"]
        spread = zipf_audiences(config.viewers, len(ids), config.zipf)
        self.audiences = dict(zip(ids, spread, strict=True))
        self._start_servers()
        report: dict[str, Any] = {"config": asdict(config), "broadcast": ids[0]}
        report["rss_idle_kb"] = self._rss()
        if not config.ingest:
            report["connect"] = self._connect()
            report["rss_connected_kb"] = self._rss()
        driver_pipe = self._start_driver(data)
        if self.redis is not None:
            report["audiences"] = list(self.audiences.values())
            report["subscriptions"] = self.redis.subscriptions([s.pid for s in self.servers])
        if config.quiet:
            report["quiet"] = self._quiet(config.quiet)
        before, clients_before = self._usage(), self._client_cpu()
        commands_before = self.redis and self.redis.commands()
        drive = self._drive(driver_pipe)
        after, clients_after = self._usage(), self._client_cpu()
        if self.redis is not None:
            report["redis"] = command_rates(
                commands_before, self.redis.commands(), drive["seconds"]
            )
        report["drive"] = drive
        report["server_cpu"] = _cpu(before, after, drive["seconds"])
        # The viewer workers' own CPU (cores), to show whether the load generator was the limit.
        report["client_cpu_share"] = rate(clients_after - clients_before, drive["seconds"])
        # WebSocket messages still queued in the server are stored meanwhile.
        report["stored"] = settled(data["stored"], SETTLE_SECONDS, MAX_SETTLE_SECONDS)
        if config.ingest:
            return report
        expect = self._expectations(data["stored_by_broadcast"]())
        if ids[0] in expect:
            report["stored_totals"] = expect[ids[0]]["stored_totals"]  # the hottest's
        report["viewers"] = self._finish(expect)
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

    def _connect(self) -> dict[str, Any]:
        config = self.config
        ports = [server.port for server in self.servers]
        started = time.monotonic()
        for first, assignments in layout(list(self.audiences.items()), config.workers):
            cfg = worker.WorkerConfig(config.host, ports, assignments, first, config.sse_percent)
            self._spawn(worker.main, cfg)
        infos = self._wait_for("connected", "connect", self._connected)
        seconds = time.monotonic() - started
        ok = sum(info["ok"] for info in infos)
        return {"seconds": seconds, "ok": ok, "per_sec": rate(ok, seconds)}

    def _start_driver(self, data: dict[str, Any]) -> Connection:
        """The driver process, once it has opened what it sends over."""
        config = self.config
        cfg = driver.DriverConfig(
            config.host,
            [server.port for server in self.servers],
            data["broadcast_ids"],
            data["tokens"],
            config.reactions_per_sec,
            config.comments_per_sec,
            config.duration,
            connections=config.connections,
            ingest=config.ingest,
            transport=config.drive,
            sockets_per_broadcast=config.sockets_per_broadcast,
        )
        driver_pipe = self._spawn(driver.main, cfg, track=False)
        while not driver_pipe.poll(0.25):
            self._drain()
            self.progress.show("driver", 0, 1, "opening the driver's connections")
        assert driver_pipe.recv()[0] == "ready"
        return driver_pipe

    def _quiet(self, seconds: float) -> dict[str, Any]:
        """``seconds`` with every viewer subscribed and nothing sent: what idle topics cost."""
        before, commands = self._usage(), self.redis and self.redis.commands()
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            self._drain()
            self.progress.show("quiet", elapsed, seconds, "nothing sent")
            time.sleep(0.25)
        self.progress.end()
        elapsed = time.monotonic() - started
        out = {"seconds": elapsed, "server_cpu": _cpu(before, self._usage(), elapsed)}
        if self.redis is not None:
            out["redis"] = command_rates(commands, self.redis.commands(), elapsed)
        return out

    def _drive(self, driver_pipe: Connection) -> dict[str, Any]:
        config = self.config
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

    def _expectations(self, stored: dict[int, dict[str, int]]) -> dict[int, dict[str, Any]]:
        """What each watched broadcast's viewers must have: its stored comments and totals."""
        return {
            broadcast: {
                "expected_comments": stored[broadcast]["comments"],
                "expected_sum": stored[broadcast]["comment_sum"],
                "stored_totals": self._stored_totals(broadcast),
            }
            for broadcast, audience in self.audiences.items()
            if audience
        }

    def _finish(self, expect: dict[int, dict[str, Any]]) -> dict[str, Any]:
        """Every viewer against the database: its broadcast's comments and last totals."""
        self._tell(("finish", expect))
        return tally(self._wait_for("result", "finish", lambda: ""), self.audiences)

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
