"""Real processes for fault and scale tests: app servers, and a private PostgreSQL.

Each test that stops a service starts its own copy on a spare port, so the shared servers the
rest of the suite uses are never touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from loadtest.servers import free_port, http_get, stop_process, wait_until

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


def database_url(settings_dict: dict[str, Any]) -> str:
    """A Django database's settings as ``DATABASE_URL``, for a server process to share it."""
    db = settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
