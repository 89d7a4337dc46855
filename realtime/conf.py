"""``settings.REALTIME``, and the history store it names, built once and cached.

Like Channels' ``ChannelLayerManager``: the cache is dropped when a test overrides the
setting, so ``override_settings(REALTIME=...)`` takes effect at once.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from realtime.history.base import HistoryStore

DEFAULTS: dict[str, Any] = {
    "HISTORY_BACKEND": "realtime.history.memory.MemoryHistory",
    "HISTORY_SIZE": 1000,
    "HISTORY_TTL": 24 * 3600,
    "REDIS_URL": "",
    "KEY_PREFIX": "rt",
    "SNAPSHOT_INTERVAL": 0.25,
    "MAX_BACKLOG": 1000,
    "FLUSH_INTERVAL": 0.05,
    "STORM_JOINS": 200,
    "STORM_FANOUT_SHARE": 0.1,
    "KEEPALIVE_INTERVAL": 15.0,
    "SSE_RETRY_MS": 2000,
    "MAX_STREAMS_PER_USER": 10,
    "MAX_STREAMS_PER_ADDRESS": 100,
}

_history: HistoryStore | None = None
_lock = threading.Lock()  # the publisher thread and the server's loop may both ask first


def option(name: str) -> Any:
    """One ``REALTIME`` setting, or its default."""
    return getattr(settings, "REALTIME", {}).get(name, DEFAULTS[name])


def get_history() -> HistoryStore:
    """The configured history store (one per process)."""
    global _history
    if _history is not None:
        return _history
    with _lock:
        if _history is None:
            backend = import_string(option("HISTORY_BACKEND"))
            _history = backend(
                size=option("HISTORY_SIZE"),
                ttl=option("HISTORY_TTL"),
                redis_url=option("REDIS_URL"),
                key_prefix=option("KEY_PREFIX"),
            )
        return _history


def _reset(*, setting: str, **kwargs: Any) -> None:
    global _history
    if setting == "REALTIME":
        _history = None


setting_changed.connect(_reset)
