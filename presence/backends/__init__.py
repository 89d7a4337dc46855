"""Pluggable presence stores; ``settings.PRESENCE["BACKEND"]`` names the one to use."""

from __future__ import annotations

from django.utils.module_loading import import_string

from presence.backends.base import PresenceConnection, PresenceStore, StoreUnavailable, UserState
from presence.conf import presence_config
from realtime.runtime import shared

__all__ = ["PresenceConnection", "PresenceStore", "StoreUnavailable", "UserState", "get_store"]


def get_store() -> PresenceStore:
    """The process's store, built from settings on first use and again after ``PRESENCE``
    changes (the old one is closed)."""
    return shared(get_store, _store_from_settings, setting="PRESENCE")


def _store_from_settings() -> PresenceStore:
    config = presence_config()
    return import_string(config.backend).from_settings(config)
