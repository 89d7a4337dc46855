"""The write path's settings, read once per process into a frozen ``WritePathConfig`` (a part
of ``realtime.runtime``, rebuilt when the setting changes)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from realtime.runtime import shared


@dataclass(frozen=True, slots=True)
class WritePathConfig:
    """How REST reactions and comments are batched (``livevideo.api.writepath``)."""

    # Seconds from the start of one of a broadcast's REST batches to the next at the least.
    rest_batch_gap: float

    @classmethod
    def from_settings(cls) -> WritePathConfig:
        return cls(rest_batch_gap=float(settings.REST_WRITE_BATCH_GAP))


def write_path_config() -> WritePathConfig:
    """The process's write-path settings."""
    return shared(WritePathConfig, WritePathConfig.from_settings, setting="REST_WRITE_BATCH_GAP")
