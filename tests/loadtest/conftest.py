"""What the load tool's tests share."""

import pytest

from loadtest import frames


@pytest.fixture
def fresh_cache(monkeypatch):
    monkeypatch.setattr(frames, "_recent", {})
    monkeypatch.setattr(frames, "_older", {})
