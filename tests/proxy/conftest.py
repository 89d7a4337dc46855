"""A real nginx, configured with ``deploy/nginx.conf`` (the file docs/operations.md documents),
in front of two uvicorn processes started with the documented command line (issue 15).

Run on its own (``make test-proxy``): it starts and stops nginx, the two servers and a private
Redis they share. nginx comes from Debian (``.ci/nginx``); without it these tests skip with a
reason, and fail under ``CI=true``. Clients are told apart by their source address: any
127.0.0.0/8 address is this machine, so a test's "clients" connect from 127.0.0.2, 127.0.0.3...
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from loadtest.proxy import NGINX, Proxy
from loadtest.servers import PrivateRedis, free_port, stop_process, wait_until
from tests.servers import ROOT

PASSWORD = "right-horse-battery"
SERVER_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "proxy-test-" + "k3yQ2pL7vR4mN8sT1wZ6bC5dF0gH3jK" * 2,
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "0",
    "RATE_SIGN_IN": "3",
}


def documented_uvicorn_command() -> tuple[dict[str, str], list[str]]:
    """The environment prefix and arguments of the documented uvicorn command line."""
    text = (ROOT / "docs" / "operations.md").read_text()
    match = re.search(r"\n(DB_POOL_SIZE=.*?uvicorn .*?)\n```", text, re.S)
    assert match, "docs/operations.md has no uvicorn command line"
    words = match.group(1).replace("\\\n", " ").split()
    env = dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("-"))
    args = words[words.index(next(w for w in words if w.endswith("uvicorn"))) + 1 :]
    return env, args


@dataclass
class Site:
    url: str
    port: int
    servers: list[subprocess.Popen[bytes]]
    server_ports: list[int]
    logs: list[Path]
    env: dict[str, str]  # the servers' environment and documented arguments
    args: list[str]
    directory: Path

    def request(
        self,
        method: str,
        path: str,
        *,
        source: str = "127.0.0.1",
        body: dict | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """One request through nginx from ``source`` (a 127.0.0.0/8 address)."""
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=10, source_address=(source, 0)
        )
        try:
            data = json.dumps(body).encode() if body is not None else None
            all_headers = {"Content-Type": "application/json", **(headers or {})}
            connection.request(method, path, body=data, headers=all_headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def token(self, password: str, *, source: str, **headers: str) -> int:
        body = {"username": "olive", "password": password}
        return self.request("POST", "/api/auth/token/", source=source, body=body, headers=headers)[
            0
        ]


def manage(env: dict[str, str], *args: str) -> str:
    """``manage.py`` with the servers' environment; what it printed."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def start_documented_uvicorn(
    env: dict[str, str], args: list[str], port: int, log: Path
) -> subprocess.Popen[bytes]:
    """A uvicorn process with the documented arguments, on ``port``."""
    argv = list(args)
    argv[argv.index("--port") + 1] = str(port)
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "uvicorn", *argv],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    connection.request("GET", "/healthz")
    return connection.getresponse().status == 200


@pytest.fixture(scope="session")
def nginx() -> str:
    """Debian's nginx binary (skipped without it, failed under ``CI=true``)."""
    if not os.path.exists(NGINX):
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is required under CI=true (.ci/nginx installs it)")
        pytest.skip("no nginx (run .ci/nginx to install Debian's)")
    return NGINX


@pytest.fixture(scope="session")
def site(nginx) -> Iterator[Site]:
    directory = Path(tempfile.mkdtemp(prefix="proxy-test-"))
    redis = PrivateRedis()
    doc_env, args = documented_uvicorn_command()
    env = {
        **os.environ,
        **doc_env,
        **SERVER_ENV,
        "DATABASE_URL": f"sqlite:///{directory / 'site.sqlite3'}",
        "REDIS_URL": redis.url,
        "DJANGO_SETTINGS_MODULE": "livevideo.settings",
    }
    env.pop("DB_POOL_SIZE", None)  # SQLite here
    manage(env, "migrate", "--noinput")
    manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        f"User.objects.create_user('olive', password='{PASSWORD}')",
    )
    ports = [free_port(), free_port()]
    logs = [directory / f"server-{p}.log" for p in ports]
    servers = [
        start_documented_uvicorn(env, args, p, log) for p, log in zip(ports, logs, strict=True)
    ]
    nginx = Proxy.start(directory, free_port(), ports)
    the_site = Site(nginx.url, nginx.port, servers, ports, logs, env, args, directory)
    try:
        for server_port, log in zip(ports, logs, strict=True):
            assert wait_until(lambda p=server_port: answers(p), timeout=30), log.read_text()
        nginx.wait_ready()
        yield the_site
    finally:
        nginx.stop()
        for server in servers:
            stop_process(server)
        redis.destroy()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def broadcast_id(site) -> int:
    """A live broadcast of the site's database."""
    printed = manage(
        site.env,
        "shell",
        "-c",
        "from django.contrib.auth.models import User; from livevideo.models import Broadcast; "
        "b = Broadcast.objects.create(title='t', broadcaster=User.objects.get(username='olive'),"
        " status='live'); print(b.pk)",
    )
    return int(printed.split()[-1])
