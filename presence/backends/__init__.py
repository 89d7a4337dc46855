"""Pluggable presence stores; ``settings.PRESENCE["BACKEND"]`` names the one to use."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from presence.backends.base import Connection, PresenceStore, StoreUnavailable, UserState

__all__ = ["Connection", "PresenceStore", "StoreUnavailable", "UserState", "get_store"]

_store: PresenceStore | None = None


def get_store() -> PresenceStore:
    """The process's store, built from settings on first use."""
    global _store
    if _store is None:
        config = settings.PRESENCE
        _store = import_string(config["BACKEND"]).from_settings(config)
    return _store


def _reset_store(*, setting: str, **kwargs: Any) -> None:
    global _store
    if setting == "PRESENCE" and _store is not None:
        _store.close()
        _store = None


setting_changed.connect(_reset_store)
