"""``settings.RATE_LIMITS``, read once per process into a frozen ``RateLimits`` (a part of
``realtime.runtime``, rebuilt when the setting changes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from django.conf import settings

from realtime.runtime import shared

ADDRESS_ACTIONS = ("SIGN_UP", "COMMENT", "REACTION")


class Limit(NamedTuple):
    """At most ``hits`` in ``seconds`` (a limit per client address of 0 hits is off)."""

    hits: int
    seconds: float


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Every ``RATE_LIMITS`` entry, one attribute each."""

    backend: str  # the store's class, dotted path
    options: dict[str, Any]  # the store's constructor's
    comment: Limit  # per user and broadcast
    reaction: Limit  # per user and broadcast
    sign_in: Limit  # failures per (account, client address): livevideo.signin
    sign_in_known_for: float  # seconds an address an account signed in from stays its own
    address: Mapping[str, Limit]  # per client address, by action (ADDRESS_ACTIONS)

    @classmethod
    def from_settings(cls) -> RateLimits:
        config = settings.RATE_LIMITS
        return cls(
            backend=config["BACKEND"],
            options=dict(config.get("OPTIONS", {})),
            comment=Limit(*config["COMMENT"]),
            reaction=Limit(*config["REACTION"]),
            sign_in=Limit(*config["SIGN_IN"]),
            sign_in_known_for=config["SIGN_IN_KNOWN_FOR"],
            address=MappingProxyType(
                {action: Limit(*config[f"ADDRESS_{action}"]) for action in ADDRESS_ACTIONS}
            ),
        )


def rate_limits() -> RateLimits:
    """The process's rate limits."""
    return shared(RateLimits, RateLimits.from_settings, setting="RATE_LIMITS")
