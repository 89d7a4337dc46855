"""Debian's nginx in front of the server processes, configured with ``deploy/nginx.conf`` (the
``http`` block's part) and ``deploy/nginx-main.conf`` (the main context's): the files
docs/operations.md documents, with a local ``listen`` line (no TLS) and the servers' ports in
the ``upstream``. The proxy tests and ``manage.py loadtest --proxy`` both run them. A server is
taken out of nginx and put back as operations.md says ("A rolling restart"): marked ``down``
(or not), ``nginx -s reload``, and waited for until the reload has taken.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import shutil
import subprocess
import time
from collections.abc import Collection
from pathlib import Path

from loadtest.servers import CLOCK_TICKS, Usage, stop_process, usage, wait_healthy

ROOT = Path(__file__).resolve().parent.parent
SITE_CONFIG = ROOT / "deploy" / "nginx.conf"
MAIN_CONFIG = ROOT / "deploy" / "nginx-main.conf"
SITE_FILE = "livevideo.conf"  # the site block's file beside the generated nginx.conf
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# Each proxied stream holds two sockets in nginx (the client's and the upstream's).
FILES_PER_CONNECTION = 2
OPEN_FILES = resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def site_block(
    port: int, upstreams: list[int], listen: str = "", down: Collection[int] = ()
) -> str:
    """``deploy/nginx.conf`` listening on ``127.0.0.1:port`` (with ``listen`` parameters), in
    front of ``upstreams`` (each with the parameters the file gives its first server; those in
    ``down`` marked ``down``: nginx sends them nothing)."""
    block = SITE_CONFIG.read_text()
    upstream = re.search(r"upstream livevideo \{(.*?)\}", block, re.S)
    first = upstream and re.search(r"server 127\.0\.0\.1:\d+([^;]*);", upstream.group(1))
    assert first, f"{SITE_CONFIG} has no upstream to point at the servers"
    servers = "".join(
        f"    server 127.0.0.1:{p}{first.group(1)}{' down' if p in down else ''};\n"
        for p in upstreams
    )
    block = block.replace(upstream.group(1), f"\n{servers}")
    block, listens = re.subn(r"listen 443 ssl http2;", f"listen 127.0.0.1:{port}{listen};", block)
    assert listens == 1, f"{SITE_CONFIG} has no listen line to replace"
    return block


def fail_timeout() -> float:
    """Seconds nginx leaves out a server that refused a connection (``fail_timeout``)."""
    found = re.search(r"fail_timeout=(\d+)s", SITE_CONFIG.read_text())
    return float(found.group(1)) if found else 10.0  # nginx's default


def shutdown_timeout() -> float:
    """Seconds an old worker keeps what it holds after a reload (``worker_shutdown_timeout``)."""
    found = re.search(r"^worker_shutdown_timeout (\d+)s;", MAIN_CONFIG.read_text(), re.M)
    assert found, f"{MAIN_CONFIG} sets no worker_shutdown_timeout (in seconds)"
    return float(found.group(1))


def connections_to(port: int) -> set[str]:
    """nginx's ends (address:port) of the established connections to ``127.0.0.1:port``: the
    streams it relays and the requests under way (``ss``, as docs/operations.md has it)."""
    listed = subprocess.run(
        ["ss", "-Htn", "state", "established", "dst", f"127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line.split()[2] for line in listed.splitlines() if line.strip()}


def nginx_config(
    directory: Path,
    port: int,
    upstreams: list[int],
    *,
    workers: int = 1,
    connections: int = 1024,
    down: Collection[int] = (),
) -> Path:
    """A whole ``nginx.conf`` in ``directory`` (its pid, logs and temporary files there too):
    the main part, ``workers`` worker processes of ``connections`` connections each (nginx
    cannot raise its open-files limit past ours: ``connections`` stays under it), and the site
    block in its own file, ``livevideo.conf``, included as operators include theirs
    (``down``: the upstreams marked so). With several workers the kernel spreads the
    connections over them (``reuseport``); otherwise one of them may accept most."""
    connections = min(connections, OPEN_FILES - 100)
    listen = " reuseport" if workers > 1 else ""
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "".join(
        f"{kind}_temp_path {directory / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    site = directory / SITE_FILE
    site.write_text(site_block(port, upstreams, listen, down))
    config = directory / "nginx.conf"
    config.write_text(
        f"{MAIN_CONFIG.read_text()}"
        f"{user}worker_processes {workers};\nworker_rlimit_nofile {connections + 100};\n"
        f"pid {directory / 'nginx.pid'};\nerror_log {directory / 'error.log'} warn;\n"
        f"events {{ worker_connections {connections}; }}\n"
        f"http {{\naccess_log off;\n{temp}include {site};\n}}\n"
    )
    return config


WORKER_TITLE = b"nginx: worker process"  # "... is shutting down" once told to exit
RELOAD_TIMEOUT = 10.0  # seconds for a reload to take: the master starts the new workers first
DRAIN_QUIET = 1.0  # seconds with no new connection to a server taken out: nginx sends it nothing
DRAIN_TIMEOUT = 30.0


class Proxy:
    """One nginx (master and workers) run in the foreground from a private directory."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        port: int,
        directory: Path,
        upstreams: list[int],
        workers: int,
        connections: int,
    ) -> None:
        self.process, self.port, self.directory = process, port, directory
        self.upstreams, self.workers, self.connections = upstreams, workers, connections
        self.config = directory / "nginx.conf"

    @classmethod
    def start(
        cls,
        directory: Path,
        port: int,
        upstreams: list[int],
        *,
        workers: int = 1,
        connections: int = 1024,
    ) -> Proxy:
        directory = directory.resolve()  # nginx reads -c relative to its prefix (-p)
        directory.mkdir(parents=True, exist_ok=True)
        config = nginx_config(directory, port, upstreams, workers=workers, connections=connections)
        process = subprocess.Popen(
            [NGINX, "-p", str(directory), "-c", str(config), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        return cls(process, port, directory, upstreams, workers, connections)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Until ``/healthz`` answers through the proxy (an upstream is up, nginx listens)."""
        wait_healthy(self.url, self.process, "nginx", timeout, self.errors)

    def errors(self) -> str:
        log = self.directory / "error.log"
        return log.read_text() if log.exists() else ""

    def worker_states(self) -> dict[int, bool]:
        """The master's workers: pid -> whether it is an old one, shutting down."""
        pid = self.process.pid
        states = {}
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            try:
                title = Path(f"/proc/{child}/cmdline").read_bytes().rstrip(b"\0")
            except FileNotFoundError:
                continue  # exited meanwhile
            if title.startswith(WORKER_TITLE):
                states[int(child)] = title != WORKER_TITLE
        return states

    def old_workers(self) -> int:
        return sum(self.worker_states().values())

    def reload(self, down: Collection[int] = ()) -> float:
        """Mark the servers on the ports in ``down`` down (and no others), ``nginx -t``,
        ``nginx -s reload``, and wait until the reload has taken: every worker from before it
        told to shut down (it accepts nothing new and hands back each client connection once
        its request is answered) and new ones in their place. Returns the seconds taken."""
        started = time.monotonic()
        before = {pid for pid, old in self.worker_states().items() if not old}
        nginx_config(
            self.directory,
            self.port,
            self.upstreams,
            workers=self.workers,
            connections=self.connections,
            down=down,
        )
        for command in (["-t", "-q"], ["-s", "reload"]):
            subprocess.run(
                [NGINX, "-p", str(self.directory), "-c", str(self.config), *command],
                check=True,
                capture_output=True,
            )
        while True:
            states = self.worker_states()
            current = [pid for pid, old in states.items() if not old]
            if not before & set(current) and len(current) == self.workers:
                return time.monotonic() - started
            if time.monotonic() - started > RELOAD_TIMEOUT:
                raise TimeoutError(f"nginx did not reload: workers {states} {self.errors()}")
            time.sleep(0.05)

    def drain(self, port: int) -> dict[str, float]:
        """After a reload that took the server on ``port`` out: until nginx has opened no new
        connection to it for ``DRAIN_QUIET`` seconds (a request an old worker had begun
        before the reload may still go there; the streams it holds stay until the server
        ends them). How long that took and how many new connections it saw."""
        started = time.monotonic()
        seen = connections_to(port)
        new = 0
        last = started
        while (now := time.monotonic()) - last < DRAIN_QUIET:
            if now - started > DRAIN_TIMEOUT:
                raise TimeoutError(f"nginx still opens connections to port {port}")
            time.sleep(0.1)
            fresh = connections_to(port) - seen
            if fresh:
                new, last = new + len(fresh), time.monotonic()
                seen |= fresh
        return {"seconds": time.monotonic() - started, "new_connections": new}

    def wait_old_workers_gone(self) -> float:
        """Until no old worker is left (each exits once what it holds has closed, or after
        ``worker_shutdown_timeout``); the seconds waited."""
        started = time.monotonic()
        deadline = started + shutdown_timeout() + RELOAD_TIMEOUT
        while self.old_workers():
            if time.monotonic() > deadline:
                raise TimeoutError(f"old nginx workers still running: {self.worker_states()}")
            time.sleep(0.1)
        return time.monotonic() - started

    def usage(self) -> Usage:
        """CPU and memory of the master and its workers together, the workers that have
        exited (after a reload) included."""
        pid = self.process.pid
        parts = [usage(pid)]
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            # One that exited meanwhile is counted below once the master has reaped it.
            with contextlib.suppress(FileNotFoundError):
                parts.append(usage(int(child)))
        stat = Path(f"/proc/{pid}/stat").read_text()
        reaped = stat[stat.rindex(")") + 2 :].split()[13:15]  # cutime, cstime
        cpu = sum(p.cpu_seconds for p in parts) + sum(int(t) for t in reaped) / CLOCK_TICKS
        return Usage(cpu, sum(p.rss_kb for p in parts), pid=pid)

    def stop(self) -> None:
        stop_process(self.process)
