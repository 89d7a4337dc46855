"""The hub's storm mode: while viewers come back in a reconnect storm, a topic's fan-out takes
a share of the loop; when a storm starts, goes on and ends, and how a mass drop holds it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from realtime.hub import Hub
from realtime.protocol import make_event
from realtime.runtime import get_hub
from tests.realtime.streamtools import realtime_settings
from tests.realtime.test_history import Collector


class SlowViewer(Collector):
    """A subscriber that takes 50 ms to write: a fan-out pass as long as a big audience's."""

    def __init__(self) -> None:
        super().__init__()
        self.handed_at: list[float] = []

    def push(self, batch: Any) -> bool:
        time.sleep(0.05)
        self.handed_at.append(time.monotonic())
        return super().push(batch)


async def two_passes(
    settings: Any, *, joins: int, quiet: float = 0, trickle: float = 0, storm: int = 5
) -> float:
    """The time between two fan-out passes of a slow topic, an event asking for the second
    right after the first, once ``joins`` subscribers have joined at once (a storm is
    ``storm``), then none for ``quiet`` seconds, then one every 0.2 s for ``trickle`` seconds
    and on through the passes."""
    hub, viewer = await slow_topic(settings, storm=storm)
    for _ in range(joins - 1):
        await hub.join("other", Collector())

    async def trickling() -> None:
        while True:
            await hub.join("other", Collector())
            await asyncio.sleep(0.2)

    await asyncio.sleep(quiet)  # no joins meanwhile
    trickler = asyncio.get_running_loop().create_task(trickling()) if trickle else None
    await asyncio.sleep(trickle)
    gap = await between_passes(hub, viewer)
    if trickler is not None:
        trickler.cancel()
    return gap


async def after_a_drop(
    settings: Any,
    *,
    leaving: int,
    back: int = 0,
    after: float,
    subscribers: int = 40,
    burst: int = 3,
    every: float = 0.4,
) -> float:
    """The time between two fan-out passes of a slow topic ``after`` seconds after ``leaving``
    of the process's ``subscribers`` left at once (a storm is 20, the one their joins made
    long over), ``back`` of them joining again ``burst`` at a time every ``every`` seconds (by
    default a quarter second of quiet between two bursts, and a rate that makes no storm of
    its own)."""
    hub, viewer = await slow_topic(settings, storm=20)
    others = [Collector() for _ in range(subscribers - 1)]
    for other in others:
        await hub.join("other", other)
    await asyncio.sleep(2.2)
    for other in others[:leaving]:
        hub.leave("other", other)

    async def coming_back() -> None:
        for done in range(back):
            await hub.join("other", Collector())
            if done % burst == burst - 1:
                await asyncio.sleep(every)

    returning = asyncio.get_running_loop().create_task(coming_back())
    await asyncio.sleep(after)
    gap = await between_passes(hub, viewer)
    returning.cancel()
    return gap


async def slow_topic(settings: Any, *, storm: int) -> tuple[Hub, SlowViewer]:
    """A hub whose storms are ``storm`` joins and whose fan-out then takes a quarter of the
    loop, and a slow viewer of topic "t" on it."""
    realtime_settings(
        settings,
        HISTORY_BACKEND="realtime.backends.memory.MemoryHistory",
        FLUSH_INTERVAL=0,
        STORM_JOINS=storm,
        STORM_FANOUT_SHARE=0.25,
    )
    hub, viewer = get_hub(), SlowViewer()
    await hub.join("t", viewer)
    return hub, viewer


async def between_passes(hub: Hub, viewer: SlowViewer) -> float:
    """The time between two fan-out passes to ``viewer``, an event asking for the second right
    after the first."""
    hub.deliver("t", make_event("x", {"n": 1}))
    await viewer.wait_for(1)
    hub.deliver("t", make_event("x", {"n": 2}))
    await viewer.wait_for(2)
    return viewer.handed_at[-1] - viewer.handed_at[-2]


async def test_in_a_reconnect_storm_the_fan_out_leaves_most_of_the_loop_to_the_joins(settings):
    # A 50 ms pass may take a quarter of the loop: the next starts 200 ms after the last began.
    assert await two_passes(settings, joins=5) >= 0.19


async def test_without_a_storm_the_next_pass_is_not_held_back(settings):
    assert await two_passes(settings, joins=4) < 0.15


async def test_a_storm_is_over_once_the_joins_stop(settings):
    assert await two_passes(settings, joins=5, quiet=0.3) < 0.15


async def test_a_storm_goes_on_while_the_joins_come_more_slowly(settings):
    # 20 at once start it; 5 a second (a quarter of that rate) keep it going once those 20
    # are over two seconds old.
    assert await two_passes(settings, joins=20, trickle=2.2, storm=20) >= 0.19


async def test_joins_at_that_slower_rate_start_no_storm(settings):
    assert await two_passes(settings, joins=1, trickle=2.2, storm=20) < 0.15


async def test_nor_do_they_continue_one_that_ended_in_a_quiet_spell(settings):
    # No event, so no pass looked at the storm during the quiet spell (as when a load test's
    # drive starts a while after its viewers connected): the joins after it end it.
    assert await two_passes(settings, joins=20, quiet=2.2, trickle=0.5, storm=20) < 0.15


async def test_after_a_mass_drop_storm_mode_holds_while_its_viewers_come_back_in_bursts(settings):
    assert await after_a_drop(settings, leaving=30, back=30, after=1.0) >= 0.19


async def test_and_ends_once_as_many_have_joined_again(settings):
    # 21 back by 2.8 s, then no join.
    assert await after_a_drop(settings, leaving=21, back=21, after=3.2) < 0.15


async def test_a_drop_nobody_comes_back_from_ends_after_a_quiet_spell(settings, monkeypatch):
    monkeypatch.setattr(Hub, "STORM_DROP_QUIET", 0.5)
    assert await after_a_drop(settings, leaving=30, after=0.1) >= 0.19
    assert await after_a_drop(settings, leaving=30, after=0.7) < 0.15


async def test_nor_does_a_drop_hold_storm_mode_past_its_cap(settings, monkeypatch):
    monkeypatch.setattr(Hub, "STORM_DROP_HOLD", 1.0)
    assert await after_a_drop(settings, leaving=30, back=30, after=1.3) < 0.15


async def test_a_drop_followed_by_a_trickle_of_joins_holds_no_longer_than_the_grace(
    settings, monkeypatch
):
    # A big audience leaving for good (its broadcast is over) while other viewers keep
    # joining now and then: the other broadcasts' fan-out is held back only for the grace.
    monkeypatch.setattr(Hub, "STORM_DROP_QUIET", 0.5)
    monkeypatch.setattr(Hub, "STORM_GOES_ON", 0.5)  # 10 joins in a second or two
    assert await after_a_drop(settings, leaving=30, back=30, burst=1, every=0.3, after=0.1) >= 0.19
    assert await after_a_drop(settings, leaving=30, back=30, burst=1, every=0.3, after=1.3) < 0.15


async def test_fewer_than_half_leaving_is_no_mass_drop(settings):
    assert await after_a_drop(settings, leaving=25, back=25, after=1.0, subscribers=60) < 0.15
