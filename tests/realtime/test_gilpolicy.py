"""The GIL switch interval of a server process (``realtime.gilpolicy``)."""

import importlib
import sys

import pytest

from realtime import gilpolicy


@pytest.fixture
def restored_interval():
    interval = sys.getswitchinterval()
    yield
    sys.setswitchinterval(interval)


def test_tune_makes_threads_offer_the_gil_sooner_than_cpythons_default(restored_interval):
    sys.setswitchinterval(0.005)  # CPython's default
    gilpolicy.tune()
    assert sys.getswitchinterval() == pytest.approx(gilpolicy.SWITCH_INTERVAL)
    assert sys.getswitchinterval() < 0.005


def test_the_asgi_application_applies_it(monkeypatch):
    import livevideo.asgi

    calls = []
    monkeypatch.setattr(gilpolicy, "tune", lambda: calls.append(True))
    importlib.reload(livevideo.asgi)
    assert calls == [True]
