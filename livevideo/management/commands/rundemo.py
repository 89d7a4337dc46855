"""``manage.py rundemo [addrport]``: ``runserver`` with the demo broadcast fed by a synthetic
video source (``livevideo.video.demo``), so ``make run`` shows moving video at once.

The source is started once, by the outer process (the autoreloader's restarts of the server
child do not start more) and stops with it. With ``LIVE_VIDEO_DEMO_SOURCE=0``, or without the
demo broadcast (``seed_demo``) live or scheduled, this is plain ``runserver``.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from livevideo.management.commands.seed_demo import LIVE_TITLE
from livevideo.models import Broadcast, BroadcastStatus
from livevideo.video import demo
from livevideo.video.config import config


class Command(BaseCommand):
    help = "runserver, with the demo broadcast fed by a synthetic ffmpeg video source."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args: Any, addrport: str, **options: Any) -> None:
        source = None
        if os.environ.get("RUN_MAIN") != "true" and config().demo_source:
            broadcast = (
                Broadcast.objects.filter(title=LIVE_TITLE)
                .exclude(status=BroadcastStatus.ENDED)
                .first()
            )
            if broadcast is not None:
                source = demo.start_source(broadcast)
                self.stdout.write(f"Demo video: a synthetic source feeds '{broadcast.title}'.")
        try:
            call_command("runserver", addrport)
        finally:
            if source is not None:
                source.terminate()
                try:
                    source.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    source.kill()
