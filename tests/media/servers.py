"""Real media-server processes for the media suite and the browser tests: ``manage.py
mediaserver`` (nginx with Debian's RTMP module) on spare ports, and ffmpeg publishing to it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from livevideo.video import ffmpeg
from tests.servers import ROOT, free_port, http_get, wait_until

NGINX = "/usr/sbin/nginx"
RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
SECRET = "media-suite-secret"


def require_nginx() -> None:
    if Path(NGINX).exists() and Path(RTMP_MODULE).exists():
        return
    message = f"nginx-rtmp is missing ({NGINX}, {RTMP_MODULE}): run .ci/media"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


class MediaServer:
    """``manage.py mediaserver`` in its own process."""

    def __init__(self, root: Path, hook_url: str) -> None:
        self.root = root
        self.rtmp_port = free_port()
        self.http_port = free_port()
        self.env = {
            **os.environ,
            "LIVE_VIDEO_ROOT": str(root),
            "LIVE_VIDEO_RTMP_LISTEN": f"127.0.0.1:{self.rtmp_port}",
            "LIVE_VIDEO_HTTP_LISTEN": f"127.0.0.1:{self.http_port}",
            "LIVE_VIDEO_HOOK_URL": hook_url,
            "LIVE_VIDEO_HOOK_SECRET": SECRET,
            "LIVE_VIDEO_SWEEP_INTERVAL": "0.5",
        }
        self.log = open(root / "mediaserver.log", "w+b")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "mediaserver"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        if not wait_until(self.answers, timeout=15):
            self.stop()
            raise RuntimeError(f"the media server did not start:\n{self.output()}")

    @property
    def ingest(self) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/live"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.http_port}/{path}"

    def answers(self) -> bool:
        return http_get(self.url("hls/"), timeout=1)[0] in {200, 403, 404}

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode


def push(server: MediaServer, key: str, *, seconds: float) -> subprocess.Popen:
    """ffmpeg publishing a synthetic source (test picture with a clock, a tone) for
    ``seconds``, as OBS would."""
    return subprocess.Popen(
        ffmpeg.synthetic_source_args(["-f", "flv", f"{server.ingest}/{key}"], seconds=seconds),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
