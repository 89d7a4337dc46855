"""A viewer worker process: holds its share of the viewers on one uvloop loop.

It talks to the runner over a ``multiprocessing`` pipe. Out: ``("connected", info)`` once every
viewer has its ``hello``, ``("progress", info)`` twice a second, ``("storm", info)`` after a
reconnect storm, ``("result", info)`` at the end. In: ``("measure", bool)``, ``("storm",)`` (drop
every connection at once and resume each with its last id), ``("window", bool)`` (latencies
from now on go to the window's own histogram, e.g. during a rolling restart, or back),
``("finish", expectations)``.
No Django here: a worker starts in a fraction of a second and spends its CPU on the sockets.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from typing import Any

from loadtest.audience import Assignment
from loadtest.client import SSEStream, Viewer, WebSocketStream
from loadtest.stats import Histogram, Reservoir, Tally, check_ledgers

RECONNECT_DELAY = 0.5  # after an unexpected close (a slow-consumer close, a server restart)
CONNECT_ATTEMPTS = 5  # a viewer's first connection; the waits between them double from...
FIRST_RETRY = 0.2  # ... this many seconds...
LAST_RETRY = 2.0  # ... to at most this many
RECONNECT_ATTEMPTS = 30  # a viewer coming back keeps trying, as a browser does (~50 s)
QUIET_SECONDS = 1.0  # "finish" checks the viewers once no event arrived for this long...
MAX_QUIET_WAIT = 30.0  # ... or after this long (a server that fell behind still delivers)
# The worker reads its sockets in rounds, POLL_INTERVAL apart, instead of waking for every
# frame: a server's fan-out writes one frame to a socket after another, so a worker woken per
# frame makes a system call and a wake-up per frame, on the cores the server needs, and the
# server's write pays for waking it (measured in docs/performance.md, "How the tool measures").
# A latency includes up to this long of the worker's own wait: the figures err on the high side.
POLL_INTERVAL = 0.01


@dataclass(frozen=True)
class WorkerConfig:
    host: str
    ports: list[int]
    assignments: list[Assignment]  # (broadcast, viewers) of this worker, in order
    first: int  # global index of this worker's first viewer (spreads ports and transports)
    sse_percent: int
    # Each viewer from its own loopback address (127.1.0.1, 127.1.0.2, ...), so that the
    # viewer count, which counts anonymous viewers once per address, has one per viewer.
    own_addresses: bool = False
    region: str = ""  # the region of ``ports`` (loadtest/regions.py)
    connect_concurrency: int = 200
    reservoir: int = 20_000


class Seat:
    """One viewer and its current connection; reconnects with its last id when dropped."""

    def __init__(self, worker: Worker, index: int, broadcast_id: int, viewer: Viewer) -> None:
        self.worker = worker
        self.broadcast_id = broadcast_id
        self.viewer = viewer
        self.port = worker.config.ports[index % len(worker.config.ports)]
        self.sse = index % 100 < worker.config.sse_percent
        self.stream: WebSocketStream | SSEStream | None = None
        self.dropping = False  # a close we asked for: no automatic reconnect
        self.lost_at: float | None = None  # when the server closed it, until the next hello
        self.source = (viewer_address(index), 0) if worker.config.own_addresses else None

    async def connect(self) -> None:
        """Open a connection and wait for its first frame."""
        loop = asyncio.get_running_loop()
        config, viewer = self.worker.config, self.viewer
        viewer.connecting()
        viewer.hello = loop.create_future()
        last = viewer.ledger.last_id
        if self.sse:
            path = f"/sse/broadcasts/{self.broadcast_id}/"
            factory = lambda: SSEStream(  # noqa: E731
                viewer, config.host, self.port, path, last, on_lost=self._lost
            )
        else:
            query = "" if last is None else f"?last_event_id={last}"
            path = f"/ws/broadcasts/{self.broadcast_id}/{query}"
            factory = lambda: WebSocketStream(  # noqa: E731
                viewer, config.host, self.port, path, on_lost=self._lost
            )
        _, self.stream = await loop.create_connection(
            factory, config.host, self.port, local_addr=self.source
        )
        await viewer.hello
        if self.lost_at is not None:
            self.worker.away.append(time.monotonic() - self.lost_at)
            self.lost_at = None

    def drop(self) -> None:
        if self.stream is not None and not self.stream.lost:
            self.dropping = True
            self.stream.close()

    def _lost(self) -> None:
        if self.dropping:
            self.dropping = False
            return
        if self.viewer.connected_at is None:
            return  # a connect attempt failed: connect_all tries again
        self.worker.reconnects += 1
        self.lost_at = time.monotonic()
        if self.viewer.close_code is not None:
            self.worker.close_codes[self.viewer.close_code] += 1
        asyncio.get_running_loop().call_later(RECONNECT_DELAY, self.worker.spawn_reconnect, self)


def viewer_address(index: int) -> str:
    """Viewer ``index``'s own loopback address (Linux answers on all of 127.0.0.0/8)."""
    return f"127.{1 + index // 65_024}.{index // 254 % 256}.{index % 254 + 1}"


class Worker:
    def __init__(self, config: WorkerConfig, pipe: Connection) -> None:
        self.config = config
        self.pipe = pipe
        self.reservoir = Reservoir(config.reservoir)
        # Latencies per broadcast, so the runner can report them by audience size.
        self.histograms = {broadcast: Histogram() for broadcast, _ in config.assignments}
        self.window = Histogram()  # latencies during a window the runner opens ("window")
        self.away: list[float] = []  # seconds from each unasked-for close to the next hello
        self.seats: list[Seat] = []
        self.tally = Tally()  # what every viewer of the worker received, and how many are on
        for broadcast, count in config.assignments:
            histogram, first = self.histograms[broadcast], config.first + len(self.seats)
            self.seats += [
                Seat(self, first + i, broadcast, Viewer(histogram, self.reservoir, self.tally))
                for i in range(count)
            ]
        self.reconnects = 0
        self.connect_failures = 0
        self.close_codes: Counter[int] = Counter()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pacer: asyncio.Handle | None = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        reporter = loop.create_task(self._report())
        self._pacer = loop.call_soon(self._pace)
        self.pipe.send(("connected", await self.connect_all(self.seats)))
        while True:
            if self.pipe.poll():
                command = self.pipe.recv()
                if command[0] == "finish":
                    reporter.cancel()
                    self._pacer.cancel()  # type: ignore[union-attr]
                    await self.quiet()
                    self.pipe.send(("result", self.result(command[1])))
                    return
                await self.handle(command)
            await asyncio.sleep(0.05)

    def _pace(self) -> None:
        """Block the loop for POLL_INTERVAL, then let it take everything that arrived."""
        time.sleep(POLL_INTERVAL)
        self._pacer = asyncio.get_running_loop().call_soon(self._pace)

    async def _report(self) -> None:
        while True:
            self.pipe.send(("progress", self.progress()))
            await asyncio.sleep(0.5)

    async def handle(self, command: tuple[Any, ...]) -> None:
        if command[0] == "measure":
            for seat in self.seats:
                seat.viewer.measuring = command[1]
        elif command[0] == "window":
            for seat in self.seats:
                seat.viewer.histogram = (
                    self.window if command[1] else self.histograms[seat.broadcast_id]
                )
        elif command[0] == "storm":
            for seat in self.seats:
                seat.drop()
            self.pipe.send(("storm", await self.connect_all(self.seats)))

    async def connect_all(
        self, seats: list[Seat], attempts: int = CONNECT_ATTEMPTS
    ) -> dict[str, Any]:
        """Connect ``seats`` with at most ``connect_concurrency`` handshakes in flight, each
        in up to ``attempts`` tries; how long it took, and how many were connected in each
        second of it (``back``)."""
        gate = asyncio.Semaphore(self.config.connect_concurrency)
        started = time.monotonic()
        back: Counter[int] = Counter()  # connected, by the whole second since ``started``

        async def one(seat: Seat) -> bool:
            async with gate:
                for attempt in range(attempts):
                    try:
                        await asyncio.wait_for(seat.connect(), 30)
                        back[int(time.monotonic() - started)] += 1
                        return True
                    except (OSError, ConnectionError, TimeoutError, asyncio.CancelledError):
                        # A connection's wait for its hello is cancelled when it is dropped
                        # meanwhile (a storm): that attempt failed, unless this task itself is
                        # being stopped.
                        if asyncio.current_task().cancelling():  # type: ignore[union-attr]
                            raise
                        seat.drop()
                        await asyncio.sleep(min(LAST_RETRY, FIRST_RETRY * 2**attempt))
            return False

        results = await asyncio.gather(*(one(seat) for seat in seats))
        failed = results.count(False)
        self.connect_failures += failed
        return {
            "seconds": time.monotonic() - started,
            "ok": len(results) - failed,
            "back": dict(back),
        }

    async def quiet(self) -> None:
        """Wait until events stop arriving: the stored figures the viewers are checked
        against may be ahead of what a busy server has delivered so far."""
        deadline = time.monotonic() + MAX_QUIET_WAIT
        delivered = -1
        while time.monotonic() < deadline:
            now = self.tally.deliveries
            if now == delivered:
                return
            delivered = now
            await asyncio.sleep(QUIET_SECONDS)

    def spawn_reconnect(self, seat: Seat) -> None:
        task = asyncio.get_running_loop().create_task(
            self.connect_all([seat], attempts=RECONNECT_ATTEMPTS)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def progress(self) -> dict[str, Any]:
        histogram = Histogram()
        for one in [*self.histograms.values(), self.window]:
            histogram.merge(one)
        return {
            "connected": self.tally.connected,
            "deliveries": self.tally.deliveries,
            "frames": self.tally.frames,
            "histogram": histogram.to_dict(),
            "reconnects": self.reconnects,
        }

    def result(self, expected: dict[int, dict[str, Any]]) -> dict[str, Any]:
        """Every viewer checked against ``expected[broadcast]`` (``expected_comments``,
        ``expected_sum``, ``stored_totals``): the sums, and the latencies, per broadcast."""
        audiences: dict[int, list[Viewer]] = {broadcast: [] for broadcast in self.histograms}
        for seat in self.seats:
            audiences[seat.broadcast_id].append(seat.viewer)
        ledgers = {}
        for broadcast, viewers in audiences.items():
            ledgers[broadcast] = check_ledgers(
                [v.ledger for v in viewers], [v.totals for v in viewers], **expected[broadcast]
            )
        return {
            **self.progress(),
            "broadcasts": {
                broadcast: {"ledgers": asdict(ledgers[broadcast]), "histogram": h.to_dict()}
                for broadcast, h in self.histograms.items()
            },
            "window": self.window.to_dict(),
            "region": self.config.region,
            "away": self.away,
            "points": self.reservoir.points,
            "connect_failures": self.connect_failures,
            "close_codes": dict(self.close_codes),
        }


def main(config: WorkerConfig, pipe: Connection) -> None:
    """The worker process's entry point."""
    import uvloop

    uvloop.run(Worker(config, pipe).run())
