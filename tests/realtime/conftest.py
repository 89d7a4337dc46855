"""Every real-time test runs on a history and hubs of its own."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _isolated_realtime(fresh_realtime: Any) -> None:
    """Autouse: see ``tests.conftest.fresh_realtime``."""
