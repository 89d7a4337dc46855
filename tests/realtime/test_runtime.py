"""One runtime per event loop, built from settings read once, reset from one place."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from typing import Any

import pytest

from realtime import runtime as rt
from realtime.backends.memory import MemoryHistory
from realtime.hub import Hub
from tests.realtime.streamtools import realtime_settings


class Part:
    """Something a layer above keeps per loop; notes whether it was closed."""

    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def in_another_loop(call: Any) -> Any:
    """``call()``'s result on an event loop of its own, in a thread of its own."""
    result: list[Any] = []

    async def run() -> None:
        result.append(call())

    thread = threading.Thread(target=asyncio.run, args=(run(),))
    thread.start()
    thread.join()
    return result[0]


async def test_each_loop_has_one_runtime_and_the_process_one_store():
    mine = rt.runtime()
    assert rt.runtime() is mine
    assert mine.loop is asyncio.get_running_loop()
    assert rt.get_hub() is mine.hub
    theirs = in_another_loop(rt.runtime)
    assert theirs is not mine
    assert theirs.history is mine.history is rt.get_history()
    assert theirs.ticker is not mine.ticker
    assert theirs.sender is not mine.sender


async def test_the_store_makes_the_hub_with_the_configured_options(settings):
    realtime_settings(
        settings,
        HISTORY_BACKEND="realtime.backends.memory.MemoryHistory",
        FLUSH_INTERVAL=0.2,
        STORM_JOINS=7,
        STORM_FANOUT_SHARE=0.5,
    )
    hub = rt.get_hub()
    assert isinstance(rt.get_history(), MemoryHistory)
    assert type(hub) is Hub
    assert (hub.flush_interval, hub.storm_joins, hub.storm_share) == (0.2, 7, 0.5)


async def test_settings_are_read_once_into_a_frozen_config(settings):
    realtime_settings(settings, MAX_BACKLOG=17)
    config = rt.config()
    assert config.max_backlog == 17
    assert config.keepalive_interval == 15.0  # a default
    settings.REALTIME["MAX_BACKLOG"] = 18  # changed in place: no setting_changed
    assert rt.config() is config
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.max_backlog = 19  # type: ignore[misc]


async def test_a_change_of_realtime_rebuilds_the_runtime_and_keeps_the_parts(settings):
    before = rt.runtime()
    part = before.part(Part, Part, setting="PRESENCE")
    realtime_settings(settings, MAX_BACKLOG=5)
    after = rt.runtime()
    assert after is not before
    assert after.config.max_backlog == 5
    assert after.history is not before.history
    assert after.part(Part, Part) is part
    assert not part.closed


async def test_a_change_of_a_parts_setting_closes_and_drops_that_part_only(settings):
    presence_part = rt.runtime().part(("a", Part), Part, setting="PRESENCE")
    other_part = rt.runtime().part(("b", Part), Part, setting="RATE_LIMITS")
    shared_part = rt.shared(("c", Part), Part, setting="PRESENCE")
    hub = rt.get_hub()
    settings.PRESENCE = {**settings.PRESENCE}
    assert presence_part.closed
    assert shared_part.closed
    assert not other_part.closed
    assert rt.runtime().part(("a", Part), Part) is not presence_part
    assert rt.shared(("c", Part), Part) is not shared_part
    assert rt.runtime().part(("b", Part), Part) is other_part
    assert rt.get_hub() is hub  # a runtime is not built from PRESENCE
