"""The ffmpeg runs the product needs: replays (stream copy), stills, and the demo's source.

ffmpeg comes from the ``imageio-ffmpeg`` wheel (a static build with libx264, aac and
drawtext), so nothing but ``pip install`` is needed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg

QUIET = ["-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
CLOCK_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def executable() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def remux_to_vod(sources: list[Path], playlist: Path) -> None:
    """Join the recordings of one broadcast into a VOD HLS playlist (with its end tag),
    copying the encoder's H.264/AAC as they are: no transcoding."""
    playlist.parent.mkdir(parents=True, exist_ok=True)
    for old in playlist.parent.glob("*.ts"):
        old.unlink()
    listing = playlist.parent / "sources.txt"
    listing.write_text("".join(f"file '{source.resolve()}'\n" for source in sources))
    subprocess.run(
        [
            executable(),
            *QUIET,
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            str(listing),
            "-c",
            "copy",
            "-f",
            "hls",
            "-hls_time",
            "2",
            "-hls_playlist_type",
            "vod",
            "-hls_segment_filename",
            str(playlist.parent / "%05d.ts"),
            str(playlist),
        ],
        check=True,
        timeout=600,
        capture_output=True,
    )
    listing.unlink()


def still(source: Path, image: Path, *, at_seconds: float = 0.0) -> None:
    """One JPEG frame of ``source`` (a recording or a live fragment)."""
    image.parent.mkdir(parents=True, exist_ok=True)
    partial = image.with_suffix(".part.jpg")
    subprocess.run(
        [
            executable(),
            *QUIET,
            "-ss",
            str(at_seconds),
            "-i",
            str(source),
            "-frames:v",
            "1",
            "-vf",
            "scale=640:-2",
            "-q:v",
            "5",
            str(partial),
        ],
        check=True,
        timeout=60,
        capture_output=True,
    )
    partial.replace(image)  # viewers never load a half-written still


def synthetic_source_args(output: list[str], *, seconds: float | None = None) -> list[str]:
    """A test picture with a burned-in clock and a tone, encoded as an encoder would (H.264
    with a keyframe a second, AAC); ``output`` are the muxer's arguments."""
    clock = (
        f"drawtext=fontfile={CLOCK_FONT}:text='%{{localtime\\:%T}}':fontsize=48"
        ":fontcolor=white:box=1:boxcolor=black@0.8:x=10:y=10"
    )
    duration = ["-t", str(seconds)] if seconds else []
    return [
        executable(),
        *QUIET,
        "-re",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=25",
        "-re",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440",
        *duration,
        "-vf",
        clock if Path(CLOCK_FONT).exists() else "null",
        *["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25"],
        *["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k"],
        *output,
    ]
