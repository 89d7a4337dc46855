"""Server processes under test: started (or targeted), watched through ``/proc``; and a
throwaway Redis on a spare port (the regions on one machine, ``loadtest.privateregions``, and
the tests).

``SERVERS`` names the command lines compared: ``uvicorn`` is the production one (uvloop,
httptools, uvicorn's sans-I/O websockets protocol as ``realtime.uvicornws`` trims it, no
per-message deflate), ``daphne`` is Channels'
own server (what ``runserver`` runs), ``baseline`` is the tutorial-style app under the same
uvicorn command, so only the application differs.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtest.stats import rate

UVICORN_FLAGS = [
    "--loop", "uvloop", "--http", "httptools", "--ws", "realtime.uvicornws:WebSocketProtocol",
    "--ws-per-message-deflate", "false", "--ws-max-size", "65536", "--no-proxy-headers",
    "--timeout-graceful-shutdown", "10", "--no-access-log", "--log-level", "warning",
]  # fmt: skip

SERVERS = {
    "uvicorn": ["-m", "uvicorn", "livevideo.asgi:application", *UVICORN_FLAGS],
    "baseline": ["-m", "uvicorn", "loadtest.baseline:application", *UVICORN_FLAGS],
    "daphne": ["-m", "daphne", "-v", "0", "livevideo.asgi:application"],
}

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Ask ``process`` to stop (SIGTERM); kill it if it has not within ``timeout`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# spare_port chooses from here up to the kernel's ephemeral range.
SPARE_PORTS_FROM = 10000
_chosen: set[int] = set()  # by spare_port in this process, free or not by now


def free_port(count: int = 1) -> int:
    """A free port followed by ``count - 1`` free ones (``loadtest --servers N`` listens on
    port, +1, ...), as ``spare_port`` chooses them."""
    return spare_port(range(count))


def spare_port(offsets: Sequence[int]) -> int:
    """A port ``p``, at random, with ``p + offset`` free for each of ``offsets`` (a Redis
    Cluster node listens on ``p`` and ``p + 10000``): all of them below the kernel's ephemeral
    range, none chosen here before.

    A server binds its port seconds after the choice (after private regions start, after its
    imports). Meanwhile a port of the ephemeral range may become the local port of any outgoing
    connection on the machine, and the server cannot bind it (uvicorn exits 3); under load,
    connections hold so much of that range that free neighbours there are rare and callers all
    got the same few. The kernel hands out no port below the range.
    """
    end = _ephemeral_ports_start()
    while True:
        port = random.randrange(SPARE_PORTS_FROM, end - max(offsets))
        ports = [port + offset for offset in offsets]
        if _chosen.isdisjoint(ports) and all(map(_bindable, ports)):
            _chosen.update(ports)
            return port


def _ephemeral_ports_start() -> int:
    """The lowest port the kernel gives outgoing connections (and binds to port 0)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def http_get(url: str, *, timeout: float = 5) -> tuple[int, bytes]:
    """GET ``url``: (status, body), for any status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_until(check, *, timeout: float, interval: float = 0.1) -> bool:
    """Poll ``check()`` until it is truthy or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return True
        time.sleep(interval)
    return False


class PrivateRedis:
    """A throwaway redis-server on a spare port, with no persistence, which a test may stop
    and start again on the same port (what a restart with lost data looks like)."""

    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("no redis-server on PATH")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = Path(tempfile.mkdtemp(prefix="private-redis-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if not wait_until(self.answers, timeout=10):
            self.stop()
            raise RuntimeError(f"redis-server did not start on port {self.port}")

    def answers(self) -> bool:
        """Whether the server answers PING now."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        """Shut the server down; what it held is gone (no persistence)."""
        if self.process is not None:
            stop_process(self.process)
        self.process = None

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections open, nothing answered, as a stuck Redis."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def destroy(self) -> None:
        if self.process is not None:
            self.resume()
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def server_command(kind: str, host: str, port: int) -> list[str]:
    """The command line that runs server ``kind`` on ``host:port``."""
    args = SERVERS[kind]
    bind = (
        ["-b", host, "-p", str(port)] if kind == "daphne" else ["--host", host, "--port", str(port)]
    )
    return [sys.executable, *args, *bind]


def server_env(*, database_url: str, redis_url: str, proxied: bool = False) -> dict[str, str]:
    """The environment of a production-like server process (DEBUG off); ``proxied``: behind
    the local nginx, whose ``X-Forwarded-For`` names the client (docs/operations.md)."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "loadtest-not-secret"),
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        # PostgreSQL connections from a pool (settings.py); SQLite ignores it.
        "DB_POOL_SIZE": os.environ.get("DB_POOL_SIZE", "8"),
        # The whole load comes from one address: limits and caps per address are off.
        "RATE_ADDRESS_COMMENTS": "0",
        "RATE_ADDRESS_REACTIONS": "0",
        "REALTIME_MAX_STREAMS_PER_ADDRESS": "0",
        # The driver's WebSocket senders (one per broadcast it comments on) share --users users.
        "REALTIME_MAX_STREAMS_PER_USER": "0",
        "TRUSTED_PROXIES": "127.0.0.1" if proxied else "",
    }


@dataclass
class Usage:
    cpu_seconds: float  # user + system, since the process started
    rss_kb: int
    pid: int  # a figure over an interval is only one process's if the pid stayed the same


def usage(pid: int) -> Usage:
    """The process's CPU time and resident memory, from ``/proc``."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    rss_kb = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
    return Usage(cpu, rss_kb, pid)


def cpu_between(before: list[Usage | None], after: list[Usage | None], seconds: float) -> list[Any]:
    """Each process's CPU seconds and share of one core between two readings (None for one
    not measured, or restarted in between)."""
    out: list[Any] = []
    for b, a in zip(before, after, strict=True):
        if a is None or b is None or a.pid != b.pid:
            out.append(None)
        else:
            used = a.cpu_seconds - b.cpu_seconds
            out.append({"seconds": used, "share": rate(used, seconds)})
    return out


class StormMemory:
    """The servers' RSS through a storm: the highest total read from the drop on, and the
    reading when every viewer was back (KB per server, None for one not measured)."""

    def __init__(self, read: Callable[[], list[int | None]]) -> None:
        self.read = read
        self.kb: dict[str, list[int | None]] = {}
        self._highest = -1  # the peak's total, KB; -1 before the first reading

    def note(self, *, back: bool) -> None:
        rss = self.read()
        total = -1 if None in rss else sum(rss)  # type: ignore[arg-type]
        if "peak" not in self.kb or total > self._highest:
            self.kb["peak"], self._highest = rss, total
        if back:
            self.kb["back"] = rss


def wait_healthy(
    url: str,
    process: subprocess.Popen[bytes] | None,
    name: str,
    timeout: float,
    detail: Callable[[], str] = str,
) -> None:
    """Until ``url``'s ``/healthz`` answers 200; an error naming ``name`` (and ``detail()``)
    if ``process`` exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{name} exited ({process.returncode}) {detail()}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} not ready in {timeout:.0f} s {detail()}")
        time.sleep(0.2)


class Server:
    """One server process: started by us (``kind``) or already running (``pid`` may be None)."""

    def __init__(self, host: str, port: int, pid: int | None = None) -> None:
        self.host, self.port, self.pid = host, port, pid
        self.process: subprocess.Popen[bytes] | None = None
        self._launch: tuple[list[str], dict[str, str], Path] | None = None  # how to start again

    @classmethod
    def start(cls, kind: str, host: str, port: int, env: dict[str, str], log: Path) -> Server:
        server = cls(host, port)
        server._launch = (server_command(kind, host, port), env, log)
        server._spawn()
        return server

    def _spawn(self) -> None:
        assert self._launch is not None, "a server we did not start cannot be started again"
        command, env, log = self._launch
        with socket.socket() as probe:
            if probe.connect_ex((self.host, self.port)) == 0:
                raise RuntimeError(f"port {self.port} is in use: stop that server or use --port")
        with log.open("ab") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=out)
        self.pid = self.process.pid

    def restart(self) -> dict[str, float]:
        """SIGTERM, wait for the process to exit, start a new one on the same port and wait
        until it answers: how long the stop and the start took (seconds)."""
        started = time.monotonic()
        self.stop()
        stopped = time.monotonic()
        self._spawn()
        self.wait_ready()
        return {"stop": stopped - started, "start": time.monotonic() - stopped}

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def wait_ready(self, timeout: float = 30.0) -> None:
        wait_healthy(self.url, self.process, f"server on port {self.port}", timeout)

    def usage(self) -> Usage | None:
        return usage(self.pid) if self.pid is not None else None

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
