"""``manage.py mediaserver``: the deployment's media server, in the foreground.

Writes nginx's configuration from ``settings.LIVE_VIDEO`` into the run directory, runs nginx
(RTMP ingest, live HLS, recording, and the HTTP server for hls/ vod/ thumbs/), and every
``SWEEP_INTERVAL`` seconds asks the app for the sweep that keeps it the source of truth (a
stale live playlist counts as a disconnect; a disconnect past the grace period ends the
broadcast) and refreshes the live stills. The sweep runs in an app process, like the hooks, so
its events reach viewers with or without Redis. SIGTERM or SIGINT stop nginx, then exit 0.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
from typing import Any
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from django.core.management.base import BaseCommand, CommandError

from livevideo.video import nginx
from livevideo.video.config import VideoConfig, config

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the media server (nginx-rtmp) for this deployment in the foreground."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--print-config", action="store_true", help="Print nginx's configuration and exit."
        )

    def handle(self, *args: Any, print_config: bool = False, **options: Any) -> None:
        cfg = config()
        if print_config:
            self.stdout.write(nginx.render(cfg))
            return
        conf = nginx.prepare(cfg)
        try:
            server = subprocess.Popen([cfg.nginx, "-p", str(cfg.root), "-c", str(conf)])
        except FileNotFoundError as exc:
            raise CommandError(f"{cfg.nginx} not found: run .ci/media") from exc
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write(
            f"Media server: RTMP on {cfg.rtmp_listen}, HTTP on {cfg.http_listen}, "
            f"run directory {cfg.root}"
        )
        while not stop.wait(cfg.sweep_interval):
            if server.poll() is not None:
                raise CommandError(f"nginx exited with status {server.returncode}")
            self._sweep(cfg)
        server.terminate()  # nginx's fast shutdown: drops encoders, finishes the recordings
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        self.stdout.write("Media server stopped.")

    def _sweep(self, cfg: VideoConfig) -> None:
        url = f"{cfg.hook_url}sweep/?{urlencode({'secret': cfg.hook_secret})}"
        try:
            urlopen(Request(url, data=b"", method="POST"), timeout=30).close()
        except OSError as exc:  # the app restarting: the next sweep catches up
            log.warning("media sweep failed (%s); trying again", exc)
