"""Settings from the environment: one reading of each kind of value, for ``livevideo/settings.py``
and ``livevideo/realtime_settings.py``. An unset variable gives the default; a set one that does
not parse stops the process at start."""

from __future__ import annotations

import os


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, str(default)))


def env_list(name: str, default: str = "") -> list[str]:
    """A comma-separated list, each item stripped, empty ones left out."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]
