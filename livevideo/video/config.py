"""The live-video settings (``settings.LIVE_VIDEO``), read in this one place."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.crypto import salted_hmac


@dataclass(frozen=True)
class VideoConfig:
    root: Path
    rtmp_listen: str
    http_listen: str
    ingest_url: str
    public_url: str
    hook_url: str
    hook_secret: str
    reconnect_grace: float
    stale_after: float
    sweep_interval: float
    nginx: str
    rtmp_module: str
    serve_files: bool
    demo_source: bool

    @property
    def hls_dir(self) -> Path:
        return self.root / "hls"

    @property
    def rec_dir(self) -> Path:
        return self.root / "rec"

    @property
    def vod_dir(self) -> Path:
        return self.root / "vod"

    @property
    def thumbs_dir(self) -> Path:
        return self.root / "thumbs"


@functools.cache
def config() -> VideoConfig:
    raw = settings.LIVE_VIDEO
    public_url = raw["PUBLIC_URL"]
    return VideoConfig(
        root=Path(raw["ROOT"]).resolve(),
        rtmp_listen=raw["RTMP_LISTEN"],
        http_listen=raw["HTTP_LISTEN"],
        ingest_url=raw["INGEST_URL"].rstrip("/"),
        public_url=public_url if public_url.endswith("/") else public_url + "/",
        hook_url=raw["HOOK_URL"] if raw["HOOK_URL"].endswith("/") else raw["HOOK_URL"] + "/",
        # Unset: derived from SECRET_KEY, so every process of one deployment agrees on it.
        hook_secret=raw["HOOK_SECRET"]
        or salted_hmac("livevideo.video.hook", "media-server").hexdigest(),
        reconnect_grace=float(raw["RECONNECT_GRACE"]),
        stale_after=float(raw["STALE_AFTER"]),
        sweep_interval=float(raw["SWEEP_INTERVAL"]),
        nginx=raw["NGINX"],
        rtmp_module=raw["RTMP_MODULE"],
        serve_files=bool(raw["SERVE_FILES"]),
        demo_source=bool(raw["DEMO_SOURCE"]),
    )


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: object) -> None:
    if setting in {"LIVE_VIDEO", "SECRET_KEY"}:
        config.cache_clear()
