"""The real-time platform's settings, ``REALTIME`` (realtime/) and ``PRESENCE`` (presence/), as
``livevideo/settings.py`` sets them from the environment. Each is read once per process from
Django's settings, by ``realtime.conf`` and ``presence.conf``; docs/operations.md lists the
environment variables.
"""

from __future__ import annotations

import os
from typing import Any

from livevideo.env import env_float, env_int


def realtime(*, redis_url: str, region: str, regions: list[str]) -> dict[str, Any]:
    """``REALTIME``: with regions (``region``, every region's name in ``regions``: the first
    homes every broadcast unless REALTIME_REGION_HOME names another rule) ``redis_url`` is the
    region's own Redis (docs/scale-out.md, "Regions")."""
    return {
        # Bounded per-topic history for recovery after a reconnect.
        "HISTORY_BACKEND": (
            "realtime.backends.regions.RegionsHistory"
            if redis_url and region
            else "realtime.backends.redis.RedisHistory"
            if redis_url
            else "realtime.backends.memory.MemoryHistory"
        ),
        "REGION": region,
        "REGIONS": regions,
        "NATS_URL": os.environ.get("NATS_URL", ""),  # the region's NATS server
        "REGION_HOME": os.environ.get("REALTIME_REGION_HOME", "realtime.regions.first_region"),
        # Each region sends its viewers the total it merges from every region's share
        # (presence/backends/regions.py): the `viewers` event itself need not cross.
        "REGION_LOCAL_SNAPSHOTS": ["viewers"],
        # Totals only grow: a snapshot below one handed on already is stale (realtime/hub.py).
        "SNAPSHOT_ORDER": {"reactions": "total"},
        # Absolute figures (CONTRACT.md: "the latest one wins"): a viewer behind is sent the
        # newest only.
        "LATEST_WINS": ["reactions", "viewers"],
        "HISTORY_SIZE": env_int("REALTIME_HISTORY_SIZE", 1000),
        # Seconds a topic's history (in Redis) outlives its last event.
        "HISTORY_TTL": env_int("REALTIME_HISTORY_TTL", 24 * 3600),
        "REDIS_URL": redis_url,
        "KEY_PREFIX": "rt",  # Redis keys rt:{topic}:seq, :log, :start; channels rt:<db>:{topic}
        # Latest-wins snapshots (reaction totals) go out at most this often per topic.
        "SNAPSHOT_INTERVAL": env_float("REALTIME_SNAPSHOT_INTERVAL", 0.25),
        # A broadcast's events go out at most this often per process: what arrives in between
        # waits and goes in the same frame (fewer socket writes under load; see realtime/hub.py).
        "FLUSH_INTERVAL": env_float("REALTIME_FLUSH_INTERVAL", 0.05),
        # A reconnect storm: while about this many viewers a second join a process, its fan-out
        # takes at most STORM_FANOUT_SHARE of the event loop, so they get back sooner.
        "STORM_JOINS": env_int("REALTIME_STORM_JOINS", 200),
        "STORM_FANOUT_SHARE": env_float("REALTIME_STORM_FANOUT_SHARE", 0.05),
        # A connection whose unsent backlog passes this many events is closed; it can resume.
        "MAX_BACKLOG": env_int("REALTIME_MAX_BACKLOG", 1000),
        # Seconds of silence before a keep-alive (WebSocket event, SSE comment).
        "KEEPALIVE_INTERVAL": env_float("REALTIME_KEEPALIVE_INTERVAL", 15),
        "SSE_RETRY_MS": 2000,  # the reconnect delay SSE clients are told
        # Streams one signed-in user, and one client address, may hold open in a process
        # (realtime/caps.py; 0: no cap).
        "MAX_STREAMS_PER_USER": env_int("REALTIME_MAX_STREAMS_PER_USER", 10),
        "MAX_STREAMS_PER_ADDRESS": env_int("REALTIME_MAX_STREAMS_PER_ADDRESS", 100),
    }


def presence(*, redis_url: str, region: str) -> dict[str, Any]:
    """``PRESENCE``. A connection counts from its first heartbeat; it and its user lapse
    HEARTBEAT_INTERVAL + GRACE_PERIOD after the last one (a process that died). A closed
    connection stops counting at once, but its user stays online GRACE_PERIOD longer, so a
    reconnect shows no offline at all."""
    return {
        "BACKEND": (
            "presence.backends.regions.RegionsPresenceStore"
            if redis_url and region
            else "presence.backends.redis.RedisPresenceStore"
            if redis_url
            else "presence.backends.memory.MemoryPresenceStore"
        ),
        "OPTIONS": {"url": redis_url} if redis_url else {},
        "HEARTBEAT_INTERVAL": env_float("PRESENCE_HEARTBEAT_INTERVAL", 15),
        "GRACE_PERIOD": env_float("PRESENCE_GRACE_PERIOD", 10),
        # `viewers` and `presence` events go out at most this often per topic.
        "DEBOUNCE": env_float("PRESENCE_DEBOUNCE", 1.0),
        # Above this many users joining plus leaving in one event, it carries counts only.
        "MAX_LISTED_USERS": env_int("PRESENCE_MAX_LISTED_USERS", 50),
    }
