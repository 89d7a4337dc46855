"""Throwaway regions on one machine: per region a redis-server and a nats-server whose gateway
reaches every other region through a link that delays each byte by ``delay`` seconds one way,
and that a test may cut (a partition) and heal, or hold one way (an asymmetric partition). The
load tool's ``--regions`` (``loadtest.regions``) and the regions tests run on them.

Why a delaying proxy written here: ``tc netem`` needs the kernel's ``sch_netem`` module, which
these machines lack ("Specified qdisc kind is unknown" inside a network namespace); Toxiproxy
is not packaged in Debian 12; the one PyPI proxy that adds delays (``sloww``) sleeps before
each read, so its delay piles up under load instead of holding each byte for a fixed time.
``DelayLink`` holds every chunk until ``delay`` after it arrived, in order, as a long wire does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from loadtest.servers import PrivateRedis, free_port, http_get, stop_process, wait_until


class DelayLink:
    """A TCP proxy on a spare port to ``127.0.0.1:target``, on a thread of its own, holding each
    chunk ``delay`` seconds in either direction. A test may cut it (both directions), or hold
    one direction while the other flows."""

    def __init__(self, target: int, delay: float) -> None:
        self.target, self.delay = target, delay
        self.port = free_port()
        self.cut_off = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._connections: set[asyncio.Task[Any]] = set()  # one task per proxied connection
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self._thread.start()
        started.wait(5)

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        # Set while a direction flows; by whether it goes to the target (inward).
        self._flowing = {inward: asyncio.Event() for inward in (True, False)}
        for flowing in self._flowing.values():
            flowing.set()
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._accept, "127.0.0.1", self.port)
        )
        started.set()
        self._loop.run_forever()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        connection = asyncio.current_task()
        assert connection is not None
        self._connections.add(connection)
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, self._flowing[True]),
                self._pipe(up_reader, writer, self._flowing[False]),
            )
        finally:
            self._connections.discard(connection)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, flowing: asyncio.Event
    ) -> None:
        """Forward what ``reader`` gets to ``writer``, each chunk ``delay`` after it arrived
        (or, while the direction is held, once it flows again)."""
        held: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def release() -> None:
            while True:
                due, chunk = await held.get()
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                if not chunk:
                    break
                await flowing.wait()
                writer.write(chunk)
                await writer.drain()

        releasing = asyncio.ensure_future(release())
        with contextlib.suppress(OSError):
            while chunk := await reader.read(65536):
                held.put_nowait((time.monotonic() + self.delay, chunk))
        held.put_nowait((time.monotonic() + self.delay, b""))
        with contextlib.suppress(OSError):
            await releasing
        writer.close()
        self._writers.discard(writer)

    def cut(self) -> None:
        """Drop every connection and refuse new ones, as a broken link does."""

        def cut() -> None:
            self.cut_off = True
            self._drop_connections()

        self._loop.call_soon_threadsafe(cut)

    def _drop_connections(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def heal(self) -> None:
        self.cut_off = False

    def hold(self, *, inward: bool) -> None:
        """Hold what crosses one way (``inward``: to the target; else from it) until
        ``release()``, while the other way flows. The connections stay open and the held bytes
        wait, as on a link that loses one direction's packets until TCP retransmits them."""
        self._loop.call_soon_threadsafe(self._flowing[inward].clear)

    def release(self) -> None:
        """Let what was held through, and both ways flow again."""
        for flowing in self._flowing.values():
            self._loop.call_soon_threadsafe(flowing.set)

    def close(self) -> None:
        """Stop: every connection is dropped and its task ends by itself (a cancelled one
        would make asyncio's streams log a ``CancelledError`` from ``connection_made``)."""

        async def shut() -> None:
            self._server.close()
            self.cut_off = True
            self._drop_connections()
            for flowing in self._flowing.values():
                flowing.set()
            if self._connections:
                await asyncio.wait(self._connections, timeout=self.delay + 5)

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(self.delay + 10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


class Region:
    """One region's servers: a Redis, and a NATS server (a cluster of one) with a gateway."""

    def __init__(self, name: str, directory: Path) -> None:
        self.name = name
        self.redis = PrivateRedis()
        self.nats_port, self.monitor_port, self.gateway_port = (free_port() for _ in range(3))
        self.nats_url = f"nats://127.0.0.1:{self.nats_port}"
        self.config = directory / f"{name}.conf"
        self.process: subprocess.Popen[bytes] | None = None

    def start_nats(self, links: dict[str, DelayLink], front: DelayLink) -> None:
        """Start the NATS server; it reaches region ``r`` through ``links[r]`` and tells the
        others to reach it through ``front``."""
        gateways = [
            {"name": name, "urls": [f"nats://127.0.0.1:{link.port}"]}
            for name, link in links.items()
        ]
        config = {
            "server_name": self.name,
            "host": "127.0.0.1",
            "port": self.nats_port,
            "http": f"127.0.0.1:{self.monitor_port}",
            # No system account: its heartbeats would cross the gateways too, and the
            # tests count what crosses.
            "no_system_account": True,
            "gateway": {
                "name": self.name,
                "host": "127.0.0.1",
                "port": self.gateway_port,
                "advertise": f"127.0.0.1:{front.port}",
                "connect_retries": 1000,
                "gateways": gateways,
            },
        }
        self.config.write_text(json.dumps(config))  # NATS's config format reads JSON
        self.run_nats()

    def run_nats(self) -> None:
        self.process = subprocess.Popen(
            ["nats-server", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def monitor(self, endpoint: str) -> dict[str, Any]:
        status, body = http_get(f"http://127.0.0.1:{self.monitor_port}/{endpoint}")
        assert status == 200, body
        return json.loads(body)

    def gateways_up(self) -> set[str]:
        """The regions this one has an outbound gateway connection to."""
        outbound = self.monitor("gatewayz").get("outbound_gateways") or {}
        return {name for name, gateway in outbound.items() if gateway.get("connection")}

    def sent_to(self, region: str) -> int:
        """Messages this region's NATS server has sent over its gateway to ``region``."""
        outbound = self.monitor("gatewayz").get("outbound_gateways") or {}
        return int(outbound.get(region, {}).get("connection", {}).get("out_msgs", 0))

    def received_from(self, region: str) -> int:
        """Messages this region's NATS server has received over the gateways from ``region``."""
        inbound = self.monitor("gatewayz").get("inbound_gateways") or {}
        return sum(int(c.get("connection", {}).get("in_msgs", 0)) for c in inbound.get(region, []))

    def kill(self) -> None:
        """Kill the region's NATS server and stop its Redis (which keeps nothing)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        self.redis.stop()

    def revive(self) -> None:
        """Start the region's servers again, on the same ports, empty."""
        self.redis.start()
        self.run_nats()

    def destroy(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        self.redis.destroy()


class PrivateRegions:
    """Regions named ``names``, each link between two of them ``delay`` seconds one way."""

    def __init__(self, names: tuple[str, ...] = ("eu", "us"), *, delay: float = 0.075) -> None:
        if shutil.which("nats-server") is None:
            raise RuntimeError("no nats-server on PATH (Debian package nats-server)")
        self.delay = delay
        self.dir = Path(tempfile.mkdtemp(prefix="private-regions-"))
        self.regions: dict[str, Region] = {}
        self.fronts: dict[str, DelayLink] = {}
        try:
            for name in names:
                region = self.regions[name] = Region(name, self.dir)
                # Everything that enters a region's gateway passes its front link.
                self.fronts[name] = DelayLink(region.gateway_port, delay)
            for name, region in self.regions.items():
                others = {other: self.fronts[other] for other in names if other != name}
                region.start_nats(others, self.fronts[name])
            if not wait_until(self._connected, timeout=30, interval=0.2):
                raise RuntimeError("the regions' gateways did not connect")
        except Exception:
            self.destroy()
            raise

    def __getitem__(self, name: str) -> Region:
        return self.regions[name]

    def app_env(self, name: str) -> dict[str, str]:
        """The environment of an app server process in region ``name`` (but its database)."""
        return {
            "REDIS_URL": self.regions[name].redis.url,
            "NATS_URL": self.regions[name].nats_url,
            "REALTIME_REGION": name,
            "REALTIME_REGIONS": ",".join(self.regions),
        }

    def _connected(self) -> bool:
        names = set(self.regions)
        return all(r.gateways_up() == names - {n} for n, r in self.regions.items())

    def _apart(self) -> bool:
        return not any(region.gateways_up() for region in self.regions.values())

    def kill(self, name: str) -> None:
        """A region dies (its Redis and NATS server; its app processes are the test's)."""
        self.regions[name].kill()

    def revive(self, name: str) -> None:
        self.regions[name].revive()
        if not wait_until(self._connected, timeout=30, interval=0.1):
            raise RuntimeError(f"{name} did not join the other regions again")

    def partition(self) -> None:
        """Cut every link between regions (each region's own servers go on), and wait until
        every gateway is down: a request sent before a server saw its gateway drop is lost
        in the cut (it times out) instead of finding nobody to answer."""
        for link in self.fronts.values():
            link.cut()
        if not wait_until(self._apart, timeout=30, interval=0.05):
            raise RuntimeError("the regions' gateways did not go down")

    def heal(self) -> None:
        """Mend the links and wait until every gateway is connected again."""
        for link in self.fronts.values():
            link.heal()
        if not wait_until(self._connected, timeout=30, interval=0.1):
            raise RuntimeError("the regions' gateways did not connect again")

    def hold_into(self, name: str) -> None:
        """Hold what the other regions send to region ``name`` while what it sends them flows
        (with two regions, one direction of the link between them): the gateways stay
        connected, and the held messages arrive once ``release_into(name)``."""
        self.fronts[name].hold(inward=True)

    def release_into(self, name: str) -> None:
        self.fronts[name].release()

    def destroy(self) -> None:
        for region in self.regions.values():
            region.destroy()
        for link in self.fronts.values():
            link.close()
        shutil.rmtree(self.dir, ignore_errors=True)
