"""The embedded default's video: a synthetic source (a test picture with a clock, and a tone)
that ffmpeg cuts into live HLS straight into the media root, where a media server would, so
``make run`` shows moving video without nginx.

The ffmpeg process is tied to the process that started it: Linux kills it when its parent
dies (``PR_SET_PDEATHSIG``), and Ctrl-C reaches it with the rest of the terminal's process
group, so it never outlives ``make run``.
"""

from __future__ import annotations

import contextlib
import ctypes
import shutil
import signal
import subprocess

from livevideo.models import Broadcast
from livevideo.video import ffmpeg
from livevideo.video import services as video_services
from livevideo.video.config import config

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Not Linux: Ctrl-C still stops it with the terminal's process group.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_source(broadcast: Broadcast) -> subprocess.Popen:
    """Feed ``broadcast`` (live, or scheduled: it goes live) from a synthetic source; returns
    the ffmpeg process, which the caller stops."""
    folder = config().hls_dir / broadcast.stream_name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    process = subprocess.Popen(
        ffmpeg.synthetic_source_args(
            [
                *["-f", "hls", "-hls_time", "1", "-hls_list_size", "6"],
                *["-hls_flags", "delete_segments+program_date_time+omit_endlist"],
                *["-hls_segment_filename", str(folder / "%d.ts"), str(folder / "index.m3u8")],
            ]
        ),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
    )
    video_services.ingest_publish(stream_key=broadcast.stream_key)
    return process
