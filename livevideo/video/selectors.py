"""What viewers and broadcasters are shown of a broadcast's video."""

from __future__ import annotations

from typing import Any

from livevideo import shapes
from livevideo.models import Broadcast, BroadcastStatus, IngestState
from livevideo.video.config import config


def live_playlist(broadcast: Broadcast) -> str:
    """The live HLS playlist, relative to the media root (nginx-rtmp's ``hls_nested`` layout)."""
    return f"hls/{broadcast.stream_name}/index.m3u8"


def playback_url(broadcast: Broadcast) -> str | None:
    """The live playlist while an encoder feeds it, the replay after the end, else None."""
    if broadcast.status == BroadcastStatus.LIVE and broadcast.ingest_state != IngestState.IDLE:
        return config().public_url + live_playlist(broadcast)
    if broadcast.status == BroadcastStatus.ENDED and broadcast.recording:
        return config().public_url + broadcast.recording
    return None


def thumbnail_url(broadcast: Broadcast) -> str | None:
    return config().public_url + broadcast.thumbnail if broadcast.thumbnail else None


def video_data(broadcast: Broadcast) -> shapes.Video:
    """The video fields of the broadcast detail, and the ``broadcast.video`` event's data."""
    return {
        "ingest_state": broadcast.ingest_state,
        "playback_url": playback_url(broadcast),
        "thumbnail_url": thumbnail_url(broadcast),
    }


def ingest_data(broadcast: Broadcast) -> dict[str, Any]:
    """For its broadcaster and staff only: where and with what key an encoder publishes."""
    return {"ingest_url": config().ingest_url, "stream_key": broadcast.stream_key}
