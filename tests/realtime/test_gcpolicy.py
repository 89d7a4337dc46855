"""The collector policy of a server process (``realtime.gcpolicy``)."""

import gc
import importlib

import pytest

from realtime import gcpolicy


@pytest.fixture
def restored_gc():
    threshold = gc.get_threshold()
    yield
    gc.set_threshold(*threshold)
    gc.unfreeze()


def test_tune_hides_what_is_loaded_from_the_collector_and_collects_less_often(restored_gc):
    gc.unfreeze()
    gcpolicy.tune()
    assert gc.get_freeze_count() > 10_000  # Django and the app, at least
    assert gc.get_threshold() == (gcpolicy.YOUNG, gcpolicy.MIDDLE, gcpolicy.OLD)
    assert gc.get_threshold()[0] > 700  # CPython's default


def test_the_asgi_application_applies_it_once_loaded(monkeypatch):
    import livevideo.asgi

    calls = []
    monkeypatch.setattr(gcpolicy, "tune", lambda: calls.append(True))
    importlib.reload(livevideo.asgi)
    assert calls == [True]
