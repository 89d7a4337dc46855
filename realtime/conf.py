"""``settings.REALTIME``, read once into a frozen ``RealtimeConfig``.

``realtime.runtime`` builds it on first use and drops it when a test overrides the setting
(like Channels' ``ChannelLayerManager``), so ``override_settings(REALTIME=...)`` takes effect
at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "HISTORY_BACKEND": "realtime.backends.memory.MemoryHistory",
    "HISTORY_SIZE": 1000,
    "HISTORY_TTL": 24 * 3600,
    "REDIS_URL": "",
    "KEY_PREFIX": "rt",
    "SNAPSHOT_INTERVAL": 0.25,
    "MAX_BACKLOG": 1000,
    "FLUSH_INTERVAL": 0.05,
    "STORM_JOINS": 200,
    "STORM_FANOUT_SHARE": 0.05,
    "KEEPALIVE_INTERVAL": 15.0,
    "SSE_RETRY_MS": 2000,
    "MAX_STREAMS_PER_USER": 10,
    "MAX_STREAMS_PER_ADDRESS": 100,
    # Regions (realtime.backends.regions): this process's region, every region's name, the
    # region's NATS server, and the rule that names a topic's home region.
    "REGION": "",
    "REGIONS": (),
    "NATS_URL": "",
    "REGION_HOME": "realtime.regions.first_region",
    # Snapshot types that stay in the region that announced them (figures of the region's
    # own, such as its viewer count, until regions merge them).
    "REGION_LOCAL_SNAPSHOTS": (),
    # Snapshot types whose data carries a number that never decreases, by the field's name
    # ({"reactions": "total"}): a hub hands on none below the last it handed on for the topic.
    "SNAPSHOT_ORDER": {},
    # Snapshot types whose newest replaces any older (absolute figures, as a count): a frame
    # carries only the newest of each that a connection is owed.
    "LATEST_WINS": (),
}


@dataclass(frozen=True, slots=True)
class RealtimeConfig:
    """Every ``REALTIME`` option (``DEFAULTS`` for those not set), one attribute each."""

    history_backend: str
    history_size: int
    history_ttl: int
    redis_url: str
    key_prefix: str
    snapshot_interval: float
    max_backlog: int
    flush_interval: float
    storm_joins: int
    storm_fanout_share: float
    keepalive_interval: float
    sse_retry_ms: int
    max_streams_per_user: int
    max_streams_per_address: int
    region: str
    regions: tuple[str, ...]
    nats_url: str
    region_home: str
    region_local_snapshots: tuple[str, ...]
    snapshot_order: tuple[tuple[str, str], ...]
    latest_wins: tuple[str, ...]

    @classmethod
    def from_settings(cls) -> RealtimeConfig:
        options = {**DEFAULTS, **getattr(settings, "REALTIME", {})}
        for name in ("REGIONS", "REGION_LOCAL_SNAPSHOTS", "LATEST_WINS"):
            options[name] = tuple(options[name])
        options["SNAPSHOT_ORDER"] = tuple(dict(options["SNAPSHOT_ORDER"]).items())
        return cls(**{name.lower(): options[name] for name in DEFAULTS})
