"""Real processes for fault and scale tests: app servers, and a private PostgreSQL.

Each test that stops a service starts its own copy on a spare port, so the shared servers the
rest of the suite uses are never touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from loadtest.servers import stop_process

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = (
    Path("/usr/lib/postgresql")
    / (
        sorted(os.listdir("/usr/lib/postgresql"))[-1]
        if os.path.isdir("/usr/lib/postgresql")
        else ""
    )
    / "bin"
)


def free_port(count: int = 1) -> int:
    """A free port followed by ``count - 1`` free ones (``loadtest --servers N`` listens on
    port, +1, ...)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        try:
            for following in range(port + 1, port + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", following))
        except OSError:
            continue
        return port


def http_get(url: str, *, timeout: float = 5) -> tuple[int, bytes]:
    """GET ``url``: (status, body), for any status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


T = TypeVar("T")


def start_or_skip(start: Callable[[], T], what: str) -> T:
    """``start()`` a private server; where it cannot run here (a missing binary), skip with a
    reason, but fail under ``CI=true``."""
    try:
        return start()
    except RuntimeError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"cannot run {what} here: {exc}")


def wait_until(check, *, timeout: float, interval: float = 0.1) -> bool:
    """Poll ``check()`` until it is truthy or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return True
        time.sleep(interval)
    return False


class AppServer:
    """``livevideo.asgi:application`` under daphne in its own process."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(tempfile.mkstemp(prefix="appserver-", suffix=".log")[1])
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [*command, "livevideo.asgi:application"],
                cwd=ROOT,
                env={**os.environ, "DJANGO_SETTINGS_MODULE": "livevideo.settings", **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if not wait_until(lambda: http_get(f"{self.url}/healthz")[0] == 200, timeout=30):
            stop_process(self.process)
            output = self.output()
            self.stop()
            raise RuntimeError(f"app server did not start:\n{output}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        stop_process(self.process)
        self.log_path.unlink(missing_ok=True)

    def kill(self) -> None:
        """Die without cleaning up, as a crashed process does."""
        self.process.kill()
        self.process.wait()


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a spare port, which a test may stop and start."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(f"no PostgreSQL server binaries in {PG_BIN}")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="private-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", str(self.dir / "data"), "-U", "postgres", "-A", "trust")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        command = [str(PG_BIN / tool), *args]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root.
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w",
            "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


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


def database_url(settings_dict: dict[str, Any]) -> str:
    """A Django database's settings as ``DATABASE_URL``, for a server process to share it."""
    db = settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
