"""Production settings: the deploy checklist passes, secrets are required, and one server
process with DEBUG off serves a whole working site, static files included."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.servers import ROOT, AppServer, http_get

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "k3y-" + "x9Q2pL7vR4mN8sT1wZ6bC5dF0gH3jK" * 2,
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "REDIS_URL": "",
}


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_checklist_passes():
    result = manage(PRODUCTION, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    result = manage({**PRODUCTION, "SECRET_KEY": ""}, "check")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.slow
def test_one_daphne_process_serves_pages_and_static_files(tmp_path):
    env = {
        **PRODUCTION,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'site.sqlite3'}",
        "SECURE_SSL_REDIRECT": "0",
    }
    assert manage(env, "migrate", "--noinput").returncode == 0
    server = AppServer(env)
    try:
        status, page = http_get(f"{server.url}/")
        assert status == 200
        assert b"/static/css/base.css" in page
        status, css = http_get(f"{server.url}/static/css/base.css")
        assert status == 200
        assert len(css) > 1000
        status, body = http_get(f"{server.url}/no-such-page/")
        assert status == 404
        assert b"Traceback" not in body
        assert b"DEBUG" not in body
    finally:
        server.stop()


def test_the_page_may_play_video_from_the_media_servers_public_url():
    result = manage(
        {**PRODUCTION, "LIVE_VIDEO_PUBLIC_URL": "http://media.example.com:8080/hls/"},
        "shell",
        "-c",
        "from django.conf import settings;"
        "d = settings.CONTENT_SECURITY_POLICY['DIRECTIVES'];"
        "print(d['media-src'], d['connect-src'])",
    )
    assert result.returncode == 0, result.stderr
    media_src, connect_src = result.stdout.strip().split("] [")
    assert "http://media.example.com:8080" in media_src
    assert "http://media.example.com:8080" in connect_src
