"""The orchestrator: data, servers, viewer workers and the driver, phase by phase.

Phases: set up fresh live broadcasts and the driver's users (through the services), start the
servers (or target running ones), connect every viewer (workers, ``spawn``ed), optionally hold
a quiet phase (everything subscribed, nothing sent: what idle topics cost), drive reactions
and comments for ``duration`` seconds while measuring (optionally dropping every connection at
once half-way: the reconnect storm), let the coalesced totals settle, then check every viewer
against what the database stored. The standard scenario has one broadcast that every viewer
watches; with ``broadcasts`` > 1 the viewers are spread Zipf-like (``loadtest/audience.py``)
and Redis is watched too (``loadtest/redisprobe.py``). With ``proxy`` every viewer and the
driver go through one nginx (``loadtest/proxy.py``) in front of the servers; with
``rolling_restart`` each server is restarted in turn during the drive (``loadtest/restart.py``).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from loadtest import driver, worker
from loadtest.audience import layout, zipf_audiences
from loadtest.pipes import Pipes
from loadtest.proxy import FILES_PER_CONNECTION, Proxy
from loadtest.redisprobe import RedisProbe, command_rates
from loadtest.regions import LoadRegions
from loadtest.restart import RollingRestart
from loadtest.servers import Server, StormMemory, Usage, cpu_between, server_env
from loadtest.stats import MAX_SETTLE_SECONDS, SETTLE_SECONDS, Histogram, rate, settled
from loadtest.tally import tally

TOTALS_TIMEOUT = 120.0  # seconds for the read of a broadcast's stored reaction totals


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
    # Everyone connects through nginx (deploy/nginx.conf), on the port after the servers'.
    proxy: bool = False
    proxy_workers: int = 1  # nginx worker processes
    # Each server restarted in turn from a quarter into the drive (needs ``proxy``); viewers
    # then come from their own addresses, so that the viewer count can be checked.
    rolling_restart: bool = False
    # Servers and viewers spread over this many private regions (loadtest/regions.py).
    regions: int = 0
    region_delay: float = 0.075  # seconds one way on each link between regions
    # Each server taken out of nginx before it stops (docs/operations.md); False: round 7's way.
    drain: bool = True


class Run(Pipes):
    def __init__(
        self, config: LoadConfig, setup: Callable[[LoadConfig], dict[str, Any]], logs: Path
    ):
        super().__init__()
        self.config = config
        self.setup = setup
        self.logs = logs
        self.servers: list[Server] = []
        self.proxy: Proxy | None = None
        self.restart: RollingRestart | None = None
        self.window_open = False  # the viewers' latencies go to their restart window
        self.audiences: dict[int, int] = {}  # broadcast -> its viewers, hottest first
        self.redis = RedisProbe(config.redis_url) if config.broadcasts > 1 else None
        self.regions: LoadRegions | None = None

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
            if self.proxy is not None:
                self.proxy.stop()
            if self.redis is not None:
                self.redis.close()
            if self.regions is not None:
                self.regions.close()

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
        proxy_before = self.proxy and self.proxy.usage()
        commands_before = self.redis and self.redis.commands()
        crossed_before = self.regions and self.regions.crossed()
        drive = self._drive(driver_pipe)
        if self.regions is not None and crossed_before:
            report["crossed_per_sec"] = self.regions.per_second(crossed_before, drive["seconds"])
        after, clients_after = self._usage(), self._client_cpu()
        if self.proxy is not None:
            (report["proxy_cpu"],) = cpu_between(
                [proxy_before], [self.proxy.usage()], drive["seconds"]
            )
        if self.redis is not None:
            report["redis"] = command_rates(
                commands_before, self.redis.commands(), drive["seconds"]
            )
        report["drive"] = drive
        report["server_cpu"] = cpu_between(before, after, drive["seconds"])
        # The viewer workers' own CPU (cores), to show whether the load generator was the limit.
        report["client_cpu_share"] = rate(clients_after - clients_before, drive["seconds"])
        # WebSocket messages still queued in the server are stored meanwhile.
        report["stored"] = settled(data["stored"], SETTLE_SECONDS, MAX_SETTLE_SECONDS)
        if self.restart is not None:
            report["rolling_restart"] = self.restart.result()
        if config.ingest:
            return report
        expect = self._expectations(data["stored_by_broadcast"]())
        if ids[0] in expect:
            report["stored_totals"] = expect[ids[0]]["stored_totals"]  # the hottest's
        report["viewers"] = self._finish(expect)
        # Read again: a change means the servers were still storing writes when the viewers
        # were checked, and comments beyond the count checked against are no duplicates.
        report["stored_at_end"] = data["stored"]()
        return report

    # Phases ----------------------------------------------------------------------------

    def _start_servers(self) -> None:
        config = self.config
        if config.targets:
            self.servers = [Server(config.host, port) for port in config.targets]
        else:
            env = server_env(
                database_url=config.database_url, redis_url=config.redis_url, proxied=config.proxy
            )
            if config.regions:
                self.regions = LoadRegions(config.regions, config.region_delay)
            more = self.regions.env if self.regions else lambda i: {}
            self.servers = [
                Server.start(config.server, config.host, config.port + i, env | more(i), self.logs)
                for i in range(config.servers)
            ]
        for server in self.servers:
            server.wait_ready()
        if config.proxy:
            # Two sockets per stream and per driver connection, spread over nginx's workers
            # (a quarter more: the spread is not even).
            streams = (config.viewers + config.users + config.connections + 100) * 5 // 4
            self.proxy = Proxy.start(
                self.logs.with_suffix(".nginx"),
                config.port + len(self.servers),
                [server.port for server in self.servers],
                workers=config.proxy_workers,
                connections=-(-streams * FILES_PER_CONNECTION // config.proxy_workers),
            )
            self.proxy.wait_ready()

    @property
    def ports(self) -> list[int]:
        """Where viewers and the driver connect: the proxy, or each server in turn."""
        return [self.proxy.port] if self.proxy else [server.port for server in self.servers]

    @property
    def url(self) -> str:
        return self.proxy.url if self.proxy else self.servers[0].url

    def _connect(self) -> dict[str, Any]:
        config = self.config
        started = time.monotonic()
        for k, (first, assignments) in enumerate(
            layout(list(self.audiences.items()), config.workers)
        ):
            region, ports = self.regions.of_worker(k, self.ports) if self.regions else ("", None)
            cfg = worker.WorkerConfig(
                config.host,
                ports or self.ports,
                assignments,
                first,
                config.sse_percent,
                own_addresses=config.rolling_restart,
                region=region,
            )
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
            self.ports,
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
        crossed = self.regions and self.regions.crossed()
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            self._drain()
            self.progress.show("quiet", elapsed, seconds, "nothing sent")
            time.sleep(0.25)
        self.progress.end()
        elapsed = time.monotonic() - started
        out = {"seconds": elapsed, "server_cpu": cpu_between(before, self._usage(), elapsed)}
        if self.redis is not None:
            out["redis"] = command_rates(commands, self.redis.commands(), elapsed)
        if self.regions is not None and crossed:
            out["crossed_per_sec"] = self.regions.per_second(crossed, elapsed)
        return out

    def _drive(self, driver_pipe: Connection) -> dict[str, Any]:
        config = self.config
        self._tell(("measure", True))
        start = self._totals()
        started = time.monotonic()
        driver_pipe.send(("start",))
        storm_started: float | None = None
        storm: list[Any] | None = None
        memory = StormMemory(self._rss)
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
                memory.note(back=storm is not None)
            self._roll(elapsed)
            self.progress.show(
                "drive", elapsed, config.duration, self._detail(start, started, sent)
            )
        self.progress.end()
        seconds = time.monotonic() - started
        while self.window_open:
            self._roll(seconds)  # the drive ended first: wait for the last server
            self.progress.show("restart", 0, 1, self._connected())
            time.sleep(0.25)
        if storm_started is not None and storm is None:
            storm = self._wait_for("storm", "storm", self._connected)
            memory.note(back=True)
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
                "back": sum((Counter(info["back"]) for info in storm), Counter()),
                "rss_kb": memory.kb,
            },
        }

    def _roll(self, elapsed: float) -> None:
        """Start the rolling restart a quarter into the drive; while it runs, the viewers'
        latencies go to their window histogram."""
        config = self.config
        if config.rolling_restart and self.restart is None and elapsed >= config.duration / 4:
            self._tell(("window", True))
            count_url = f"{self.url}/api/broadcasts/{next(iter(self.audiences))}/viewers/"
            # Anonymous viewers, each from its own address: one each (the driver uses REST).
            assert self.proxy is not None
            self.restart = RollingRestart(
                self.servers, self.proxy, count_url, config.viewers, drain=config.drain
            ).start()
            self.window_open = True
        elif self.window_open and self.restart is not None and self.restart.restarted:
            self._tell(("window", False))
            self.window_open = False

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
        results = self._wait_for("result", "finish", lambda: "")
        out = tally(results, self.audiences)
        if self.regions is not None:
            out["latency_by_region"] = self.regions.latency_by_region(results)
        return out

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

    def _usage(self) -> list[Usage | None]:
        return [server.usage() for server in self.servers]

    def _rss(self) -> list[int | None]:
        return [u.rss_kb if u else None for u in self._usage()]

    def _stored_totals(self, broadcast_id: int) -> dict[str, Any]:
        url = f"{self.url}/api/broadcasts/{broadcast_id}/reactions/"
        # A server still working through a backlog answers late; a run that ends with a
        # timeout here reports nothing at all (round 7's first full-size runs).
        with urllib.request.urlopen(url, timeout=TOTALS_TIMEOUT) as response:
            return json.load(response)


def run(
    config: LoadConfig, setup: Callable[[LoadConfig], dict[str, Any]], logs: Path
) -> dict[str, Any]:
    """Run one load test; ``setup`` makes its data (see the management command)."""
    return Run(config, setup, logs).execute()
