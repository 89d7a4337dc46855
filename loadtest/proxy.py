"""Debian's nginx in front of the server processes, configured with ``deploy/nginx.conf``: the
file docs/operations.md documents, with a local ``listen`` line (no TLS) and the servers'
ports in its ``upstream``. The proxy tests and ``manage.py loadtest --proxy`` both run it.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
from pathlib import Path

from loadtest.servers import Usage, stop_process, usage, wait_healthy

ROOT = Path(__file__).resolve().parent.parent
SITE_CONFIG = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# Each proxied stream holds two sockets in nginx (the client's and the upstream's).
FILES_PER_CONNECTION = 2
OPEN_FILES = resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def site_block(port: int, upstreams: list[int], listen: str = "") -> str:
    """``deploy/nginx.conf`` listening on ``127.0.0.1:port`` (with ``listen`` parameters), in
    front of ``upstreams`` (each with the parameters the file gives its first server)."""
    block = SITE_CONFIG.read_text()
    upstream = re.search(r"upstream livevideo \{(.*?)\}", block, re.S)
    first = upstream and re.search(r"server 127\.0\.0\.1:\d+([^;]*);", upstream.group(1))
    assert first, f"{SITE_CONFIG} has no upstream to point at the servers"
    servers = "".join(f"    server 127.0.0.1:{p}{first.group(1)};\n" for p in upstreams)
    block = block.replace(upstream.group(1), f"\n{servers}")
    block, listens = re.subn(r"listen 443 ssl http2;", f"listen 127.0.0.1:{port}{listen};", block)
    assert listens == 1, f"{SITE_CONFIG} has no listen line to replace"
    return block


def fail_timeout() -> float:
    """Seconds nginx leaves out a server that refused a connection (``fail_timeout``)."""
    found = re.search(r"fail_timeout=(\d+)s", SITE_CONFIG.read_text())
    return float(found.group(1)) if found else 10.0  # nginx's default


def nginx_config(
    directory: Path, port: int, upstreams: list[int], *, workers: int = 1, connections: int = 1024
) -> Path:
    """A whole ``nginx.conf`` in ``directory`` (its pid, logs and temporary files there too):
    the site block, ``workers`` worker processes of ``connections`` connections each (nginx
    cannot raise its open-files limit past ours: ``connections`` stays under it). With several
    workers the kernel spreads the connections over them (``reuseport``); otherwise one of them
    may accept most."""
    connections = min(connections, OPEN_FILES - 100)
    listen = " reuseport" if workers > 1 else ""
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "".join(
        f"{kind}_temp_path {directory / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config = directory / "nginx.conf"
    config.write_text(
        f"{user}worker_processes {workers};\nworker_rlimit_nofile {connections + 100};\n"
        f"pid {directory / 'nginx.pid'};\nerror_log {directory / 'error.log'} warn;\n"
        f"events {{ worker_connections {connections}; }}\n"
        f"http {{\naccess_log off;\n{temp}{site_block(port, upstreams, listen)}}}\n"
    )
    return config


class Proxy:
    """One nginx (master and workers) run in the foreground from a private directory."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, directory: Path) -> None:
        self.process, self.port, self.directory = process, port, directory

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
        directory.mkdir(parents=True, exist_ok=True)
        config = nginx_config(directory, port, upstreams, workers=workers, connections=connections)
        process = subprocess.Popen(
            [NGINX, "-p", str(directory), "-c", str(config), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        return cls(process, port, directory)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Until ``/healthz`` answers through the proxy (an upstream is up, nginx listens)."""
        wait_healthy(self.url, self.process, "nginx", timeout, self.errors)

    def errors(self) -> str:
        log = self.directory / "error.log"
        return log.read_text() if log.exists() else ""

    def usage(self) -> Usage:
        """CPU and memory of the master and its workers together."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        parts = [usage(pid), *(usage(int(child)) for child in children)]
        return Usage(sum(p.cpu_seconds for p in parts), sum(p.rss_kb for p in parts), pid=pid)

    def stop(self) -> None:
        stop_process(self.process)
