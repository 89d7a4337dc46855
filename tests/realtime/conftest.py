"""Every real-time test runs on a history and hubs of its own."""

from __future__ import annotations

from typing import Any

import pytest

from tests.realtime.streamtools import fresh_realtime as _fresh_realtime

fresh_realtime = _fresh_realtime


@pytest.fixture(autouse=True)
def _isolated_realtime(fresh_realtime: Any) -> None:
    """Autouse: see ``streamtools.fresh_realtime``."""
