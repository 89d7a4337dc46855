"""The embedded default's synthetic source never outlives the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.servers import wait_until

STARTER = """
import os, subprocess, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livevideo.settings")
django.setup()
from livevideo.video.demo import _die_with_parent
child = subprocess.Popen(["sleep", "60"], preexec_fn=_die_with_parent)
print(child.pid, flush=True)
sys.stdin.read()
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_the_source_dies_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", STARTER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))),
        text=True,
    )
    child = int(parent.stdout.readline())
    assert _alive(child)

    parent.send_signal(signal.SIGKILL)  # no chance to clean up
    parent.wait()

    assert wait_until(lambda: not _alive(child), timeout=5), "the source outlived its parent"
