"""``RATE_LIMITS`` read once per process, and again after the setting changes."""

from __future__ import annotations

import dataclasses

import pytest

from livevideo.ratelimit import get_limiter
from livevideo.ratelimit.conf import Limit, rate_limits


def test_every_entry_is_read(settings):
    config = settings.RATE_LIMITS
    limits = rate_limits()
    assert limits.backend == config["BACKEND"]
    assert limits.options == config.get("OPTIONS", {})
    assert limits.comment == Limit(*config["COMMENT"])
    assert limits.reaction == Limit(*config["REACTION"])
    assert limits.sign_in == Limit(*config["SIGN_IN"])
    assert limits.sign_in_known_for == config["SIGN_IN_KNOWN_FOR"]
    assert dict(limits.address) == {
        action: Limit(*config[f"ADDRESS_{action}"]) for action in ("SIGN_UP", "COMMENT", "REACTION")
    }


def test_read_once_and_frozen(settings):
    limits = rate_limits()
    settings.RATE_LIMITS["COMMENT"] = (1, 1.0)  # changed in place: no setting_changed
    assert rate_limits() is limits
    with pytest.raises(dataclasses.FrozenInstanceError):
        limits.comment = Limit(1, 1.0)  # type: ignore[misc]
    with pytest.raises(TypeError):
        limits.address["COMMENT"] = Limit(1, 1.0)  # type: ignore[index]


def test_a_change_of_the_setting_is_read_with_the_store_it_names(settings):
    limits, limiter = rate_limits(), get_limiter()
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "ADDRESS_COMMENT": (3, 10.0)}
    assert rate_limits() is not limits
    assert rate_limits().address["COMMENT"] == Limit(hits=3, seconds=10.0)
    assert get_limiter() is not limiter
