"""An encoder publishing to the real media server: refused keys, going live by itself,
reconnecting then the end, and the recording becoming a replay."""

from __future__ import annotations

import signal

from livevideo.models import Broadcast, BroadcastStatus, IngestState
from tests.factories import BroadcastFactory, UserFactory
from tests.media.servers import MediaServer, push
from tests.servers import http_get, wait_until


def _broadcast() -> Broadcast:
    return BroadcastFactory(broadcaster=UserFactory(username="caster"))


def _reload(broadcast: Broadcast) -> Broadcast:
    broadcast.refresh_from_db()
    return broadcast


def test_a_wrong_key_is_refused(mediaserver: MediaServer) -> None:
    broadcast = _broadcast()

    encoder = push(mediaserver, "lv_wrong-key", seconds=20)

    assert encoder.wait(timeout=15) != 0, "ffmpeg kept publishing with a wrong key"
    assert _reload(broadcast).status == BroadcastStatus.SCHEDULED
    assert not any((mediaserver.root / "hls").iterdir())
    assert not any((mediaserver.root / "rec").iterdir())


def test_publish_goes_live_reconnects_ends_and_replays(mediaserver: MediaServer) -> None:
    broadcast = _broadcast()
    live_playlist = mediaserver.url(f"hls/broadcast-{broadcast.pk}/index.m3u8")

    encoder = push(mediaserver, broadcast.stream_key, seconds=8)

    assert wait_until(lambda: _reload(broadcast).status == BroadcastStatus.LIVE, timeout=10)
    assert broadcast.ingest_state == IngestState.PUBLISHING
    assert wait_until(lambda: http_get(live_playlist)[0] == 200, timeout=10)
    assert b"#EXTM3U" in http_get(live_playlist)[1]
    # The secret key is in no file name a viewer could see.
    assert not [p for p in mediaserver.root.rglob("*") if broadcast.stream_key in p.name]

    encoder.wait(timeout=30)
    assert wait_until(
        lambda: _reload(broadcast).ingest_state == IngestState.RECONNECTING, timeout=10
    )
    assert broadcast.status == BroadcastStatus.LIVE
    # RECONNECT_GRACE is 4 s in this suite.
    assert wait_until(lambda: _reload(broadcast).status == BroadcastStatus.ENDED, timeout=15)

    assert wait_until(lambda: _reload(broadcast).recording, timeout=15)
    status, replay = http_get(mediaserver.url(broadcast.recording))
    assert status == 200
    assert b"#EXT-X-ENDLIST" in replay
    assert b"#EXT-X-PLAYLIST-TYPE:VOD" in replay
    assert replay.count(b"#EXTINF") >= 3  # about 8 s of video in 2 s segments
    assert http_get(mediaserver.url(broadcast.thumbnail))[0] == 200


def test_the_ended_broadcasts_encoder_is_dropped_and_refused(mediaserver: MediaServer) -> None:
    broadcast = _broadcast()
    encoder = push(mediaserver, broadcast.stream_key, seconds=60)
    assert wait_until(lambda: _reload(broadcast).status == BroadcastStatus.LIVE, timeout=10)

    from livevideo import services

    services.broadcast_end(broadcast=broadcast, actor=broadcast.broadcaster)

    # nginx asks every 10 s (on_update) whether the publish may go on.
    assert encoder.wait(timeout=25) is not None
    assert push(mediaserver, broadcast.stream_key, seconds=20).wait(timeout=15) != 0


def test_sigterm_stops_the_media_server_cleanly(mediaserver: MediaServer) -> None:
    mediaserver.process.send_signal(signal.SIGTERM)

    assert mediaserver.process.wait(timeout=15) == 0
    assert not wait_until(mediaserver.answers, timeout=1)
