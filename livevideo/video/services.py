"""Every write about a broadcast's video: its stream key, what the media server reports about
the encoder (publish, publish done, record done), and the sweep that keeps the app the one
source of truth when a report never comes.

The encoder connecting makes a scheduled broadcast live through ``services.broadcast_start``,
as pressing Go live does (same event); the broadcast ends through ``services.broadcast_end``
once the encoder has been gone longer than ``RECONNECT_GRACE`` (docs/operations.md).
"""

from __future__ import annotations

import logging
import re
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from livevideo import permissions, services, signals
from livevideo.errors import InvalidInput, NotAllowed, WrongStatus
from livevideo.models import Broadcast, BroadcastStatus, IngestState, new_stream_key
from livevideo.video import ffmpeg
from livevideo.video import selectors as video
from livevideo.video.config import config

log = logging.getLogger(__name__)
STREAM_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
PUBLIC_NAME = re.compile(r"broadcast-([0-9]{1,19})")


class UnknownStream(NotAllowed):
    """No broadcast has this stream key (wrong, or rotated)."""

    code = "unknown_stream"


def stream_key_rotate(*, broadcast: Broadcast, actor: AbstractBaseUser) -> Broadcast:
    """A new secret key; the old one is refused from now on (a publish already under way
    goes on until it stops)."""
    permissions.require_manager(broadcast, actor)
    broadcast.stream_key = new_stream_key()
    broadcast.save(update_fields=["stream_key"])
    return broadcast


def stream_name_clean(name: object) -> str:
    if not isinstance(name, str) or not STREAM_NAME.fullmatch(name):
        raise InvalidInput("A stream name is 1-64 letters, digits, '-' or '_'.", field="name")
    return name


def broadcast_for_stream(name: object) -> Broadcast:
    """The broadcast a media-server report is about: by its secret key, or by the public name
    it was renamed to."""
    clean = stream_name_clean(name)
    public = PUBLIC_NAME.fullmatch(clean)
    found = (
        Broadcast.objects.filter(pk=int(public.group(1))).first()
        if public
        else Broadcast.objects.filter(stream_key=clean).first()
    )
    if found is None:
        raise UnknownStream("No broadcast has this stream key.")
    return found


def _set_ingest(broadcast: Broadcast, state: str, *, at: datetime | None = None) -> None:
    broadcast.ingest_state = state
    broadcast.ingest_changed_at = at or timezone.now()
    broadcast.save(update_fields=["ingest_state", "ingest_changed_at", "video_started_at"])
    signals.broadcast_video_changed.send_on_commit(Broadcast, broadcast=broadcast)


def ingest_publish(*, stream_key: object) -> Broadcast:
    """An encoder asks to publish: refused for an unknown or ended broadcast's key; otherwise
    the broadcast goes live (if it was scheduled) and shows the video."""
    clean = stream_name_clean(stream_key)
    if PUBLIC_NAME.fullmatch(clean):
        raise UnknownStream("Publish with the stream key, not the public name.")
    broadcast = broadcast_for_stream(clean)
    if broadcast.status == BroadcastStatus.ENDED:
        raise WrongStatus("This broadcast has ended; create a new one to go live again.")
    # One transaction: nobody sees the broadcast live without its video state.
    with transaction.atomic():
        if broadcast.status == BroadcastStatus.SCHEDULED:
            try:
                services.broadcast_start(broadcast=broadcast, actor=broadcast.broadcaster)
            except WrongStatus:  # started by Go live meanwhile
                broadcast.refresh_from_db()
        broadcast.video_started_at = broadcast.video_started_at or timezone.now()
        _set_ingest(broadcast, IngestState.PUBLISHING)
    return broadcast


def ingest_check(*, name: object) -> Broadcast:
    """The media server's periodic check of a publish under way: refused (so it drops the
    encoder) once the broadcast has ended."""
    broadcast = broadcast_for_stream(name)
    if broadcast.status != BroadcastStatus.LIVE:
        raise WrongStatus("This broadcast is not live.")
    return broadcast


def ingest_publish_done(*, name: object) -> Broadcast:
    """The encoder went away: viewers see "reconnecting" until it is back or the grace
    period is over."""
    broadcast = broadcast_for_stream(name)
    if broadcast.status == BroadcastStatus.LIVE:
        with transaction.atomic():
            _set_ingest(broadcast, IngestState.RECONNECTING)
    elif broadcast.ingest_state != IngestState.IDLE:
        with transaction.atomic():
            _set_ingest(broadcast, IngestState.IDLE)
    return broadcast


def _recordings(broadcast: Broadcast) -> list[Path]:
    return sorted(config().rec_dir.glob(f"{broadcast.stream_name}-*.flv"))


def recording_done(*, name: object) -> Broadcast:
    """A recording file is complete: (re)build the replay from all of the broadcast's
    recordings, and a still when there is none yet."""
    broadcast = broadcast_for_stream(name)
    sources = [path for path in _recordings(broadcast) if path.stat().st_size > 0]
    if not sources:
        raise InvalidInput("The broadcast has no recording on the media server.", field="path")
    relative = f"vod/{broadcast.stream_name}/index.m3u8"
    try:
        ffmpeg.remux_to_vod(sources, config().root / relative)
        if not broadcast.thumbnail:
            ffmpeg.still(
                sources[0], config().root / f"thumbs/{broadcast.stream_name}.jpg", at_seconds=1
            )
            broadcast.thumbnail = f"thumbs/{broadcast.stream_name}.jpg"
    except subprocess.CalledProcessError as exc:
        log.error("broadcast %s: remux failed: %s", broadcast.pk, exc.stderr[-2000:])
        raise InvalidInput(
            "The recording could not be turned into a replay.", field="path"
        ) from exc
    broadcast.recording = relative
    with transaction.atomic():
        broadcast.save(update_fields=["recording", "thumbnail"])
        signals.broadcast_video_changed.send_on_commit(Broadcast, broadcast=broadcast)
    return broadcast


def _playlist_age(broadcast: Broadcast, now: float) -> float:
    try:
        return now - (config().root / video.live_playlist(broadcast)).stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def ingest_sweep(*, check_playlists: bool = True) -> list[int]:
    """What no hook told us: a publish whose live playlist stopped changing counts as gone
    (a media server that died or restarted sends no publish_done), and a broadcast whose
    encoder stayed away past the grace period ends. Returns the broadcasts it changed."""
    cfg = config()
    now = timezone.now()
    changed = []
    live = Broadcast.objects.filter(status=BroadcastStatus.LIVE).exclude(
        ingest_state=IngestState.IDLE
    )
    for broadcast in live.select_related("broadcaster"):
        since = broadcast.ingest_changed_at or now
        if broadcast.ingest_state == IngestState.PUBLISHING:
            if not check_playlists or now - since < timedelta(seconds=cfg.stale_after):
                continue
            if _playlist_age(broadcast, time.time()) < cfg.stale_after:
                continue
            log.warning("broadcast %s: live playlist is stale, encoder gone", broadcast.pk)
            with transaction.atomic():
                _set_ingest(broadcast, IngestState.RECONNECTING)
            changed.append(broadcast.pk)
        elif now - since >= timedelta(seconds=cfg.reconnect_grace):
            services.broadcast_end(broadcast=broadcast, actor=broadcast.broadcaster)
            changed.append(broadcast.pk)
    return changed


STILL_EVERY = 30.0  # seconds between two stills of a live broadcast


def live_stills_refresh() -> list[int]:
    """A fresh still from the newest live fragment of each publishing broadcast, at most
    every ``STILL_EVERY`` seconds: the poster and the home page's cards."""
    refreshed = []
    live = Broadcast.objects.filter(
        status=BroadcastStatus.LIVE, ingest_state=IngestState.PUBLISHING
    )
    for broadcast in live:
        relative = f"thumbs/{broadcast.stream_name}.jpg"
        image = config().root / relative
        if image.exists() and time.time() - image.stat().st_mtime < STILL_EVERY:
            continue
        fragments = sorted(
            (config().hls_dir / broadcast.stream_name).glob("*.ts"), key=lambda p: p.stat().st_mtime
        )
        if len(fragments) < 2:  # the newest one may still be being written
            continue
        try:
            ffmpeg.still(fragments[-2], image)
        except (subprocess.CalledProcessError, FileNotFoundError):
            continue  # cleaned up meanwhile: next time
        if broadcast.thumbnail != relative:
            broadcast.thumbnail = relative
            with transaction.atomic():
                broadcast.save(update_fields=["thumbnail"])
                signals.broadcast_video_changed.send_on_commit(Broadcast, broadcast=broadcast)
        refreshed.append(broadcast.pk)
    return refreshed
