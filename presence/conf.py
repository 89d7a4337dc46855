"""``settings.PRESENCE``, read once into a frozen ``PresenceConfig`` (per process, rebuilt when
the setting changes: a part of ``realtime.runtime``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from realtime.runtime import shared


@dataclass(frozen=True, slots=True)
class PresenceConfig:
    """Every ``PRESENCE`` option, one attribute each."""

    backend: str  # the store's class, dotted path
    heartbeat_interval: float
    grace_period: float
    debounce: float
    max_listed_users: int
    options: dict[str, Any] = field(default_factory=dict)  # the store's constructor's

    @classmethod
    def from_settings(cls) -> PresenceConfig:
        config = settings.PRESENCE
        return cls(
            backend=config["BACKEND"],
            heartbeat_interval=config["HEARTBEAT_INTERVAL"],
            grace_period=config["GRACE_PERIOD"],
            debounce=config["DEBOUNCE"],
            max_listed_users=config["MAX_LISTED_USERS"],
            options=dict(config.get("OPTIONS", {})),
        )


def presence_config() -> PresenceConfig:
    """The process's presence settings."""
    return shared(PresenceConfig, PresenceConfig.from_settings, setting="PRESENCE")
