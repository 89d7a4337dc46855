"""The load tool's nginx (loadtest.proxy.Proxy), started as the load tool starts it."""

from __future__ import annotations

from pathlib import Path

from loadtest.proxy import Proxy
from tests.servers import free_port, http_get, wait_until


def test_nginx_starts_in_a_directory_given_relative_to_here(tmp_path, monkeypatch):
    """The load tool names its logs' directory relative to where it runs (bench-results/)."""
    monkeypatch.chdir(tmp_path)
    proxy = Proxy.start(Path("bench-results") / "run.nginx", free_port(), [free_port()])
    try:
        # No server behind it: nginx itself answers, 502.
        up = wait_until(lambda: proxy.process.poll() is not None or answers(proxy.url), timeout=10)
        assert up
        assert proxy.process.poll() is None, proxy.errors()
        assert http_get(f"{proxy.url}/healthz")[0] == 502
    finally:
        proxy.stop()


def answers(url: str) -> bool:
    try:
        http_get(f"{url}/healthz", timeout=1)
    except OSError:
        return False
    return True
