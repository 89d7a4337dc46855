"""``TopicSnapshots``: one read of a topic's state for every viewer that joins while nothing is
handed to the topic, and a fresh read once anything is."""

from __future__ import annotations

import asyncio

from realtime.hub import Hub
from realtime.protocol import Event, make_event
from realtime.runtime import get_hub
from realtime.snapshots import TopicSnapshots
from tests.realtime.streamtools import realtime_settings
from tests.realtime.test_coalesce import Source
from tests.realtime.test_history import Collector


def snapshots_of(source: Source, max_age: float = 60.0) -> TopicSnapshots[str, tuple[str, int]]:
    return TopicSnapshots(source.load, topic_of=lambda key: f"topic.{key}", max_age=max_age)


async def joined(settings, topic: str = "topic.a") -> Hub:
    realtime_settings(settings, HISTORY_BACKEND="realtime.backends.memory.MemoryHistory")
    hub = get_hub()
    await hub.join(topic, Collector())
    return hub


async def test_viewers_joining_a_quiet_topic_share_one_read(settings):
    await joined(settings)
    source = Source()
    snapshots = snapshots_of(source)
    first = await snapshots.get("a")
    source.version = 1  # changed, but nothing announced: the read stands (within max_age)
    assert [await snapshots.get("a") for _ in range(100)] == [first] * 100
    assert source.calls == 1


async def test_any_event_handed_to_the_topic_makes_the_next_viewer_read_again(settings):
    hub = await joined(settings)
    source = Source()
    snapshots = snapshots_of(source)
    assert await snapshots.get("a") == ("a", 0)
    source.version = 1
    hub.deliver("topic.a", make_event("reactions", {"total": 1}))  # a snapshot, not replayed
    assert await snapshots.get("a") == ("a", 1)
    assert await snapshots.get("a") == ("a", 1)
    assert source.calls == 2


async def test_an_event_handed_on_while_the_read_is_under_way_is_not_lost(settings):
    hub = await joined(settings)
    source = Source()
    snapshots = snapshots_of(source)
    source.gate.clear()
    reading = asyncio.ensure_future(snapshots.get("a"))
    await source.started.wait()  # the read has seen version 0
    source.version = 1
    hub.deliver("topic.a", make_event("comment.created", {}, event_id=1))
    source.gate.set()
    assert await reading == ("a", 0)  # its viewer joined before: it gets the event live
    assert await snapshots.get("a") == ("a", 1)  # a viewer asking now reads again


async def test_a_topic_that_emptied_is_read_again(settings):
    hub = await joined(settings)
    source = Source()
    snapshots = snapshots_of(source)
    await snapshots.get("a")
    [viewer] = hub.topics["topic.a"].owed
    hub.leave("topic.a", viewer)  # nobody here saw what was announced meanwhile
    await hub.join("topic.a", Collector())
    source.version = 1
    assert await snapshots.get("a") == ("a", 1)


async def test_reads_older_than_max_age_are_not_given(settings):
    await joined(settings)
    source = Source()
    snapshots = snapshots_of(source, max_age=0.05)
    await snapshots.get("a")
    source.version = 1
    await asyncio.sleep(0.06)
    assert await snapshots.get("a") == ("a", 1)
    assert await snapshots.get_recent("a") == ("a", 1)


async def test_forget_makes_the_next_viewer_read_again_and_drops_a_read_under_way(settings):
    await joined(settings)
    source = Source()
    snapshots = snapshots_of(source)
    await snapshots.get("a")
    source.version = 1
    snapshots.forget("a")
    source.gate.clear()
    source.started.clear()
    reading = asyncio.ensure_future(snapshots.get("a"))
    await source.started.wait()
    source.version = 2
    snapshots.forget("a")  # changed while that read was under way: it is not kept
    source.gate.set()
    assert await reading == ("a", 1)
    assert await snapshots.get("a") == ("a", 2)
    assert source.calls == 3


async def test_before_joining_a_recent_read_will_do(settings):
    await joined(settings)
    source = Source()
    snapshots = snapshots_of(source)
    assert await snapshots.get_recent("b") == ("b", 0)  # nobody watches topic.b: not kept
    assert await snapshots.get("a") == ("a", 0)
    source.version = 1
    assert await snapshots.get_recent("a") == ("a", 0)
    assert source.calls == 2


def amend_totals(value: tuple[str, int], event: Event) -> tuple[str, int] | None:
    """An owner's knowledge of its events: ``viewers`` changes nothing it reads, ``reactions``
    sets its number, anything else takes a new read."""
    if event.type == "viewers":
        return value
    if event.type == "reactions":
        return (value[0], event.data["total"])
    return None


async def test_events_the_owner_applies_change_the_read_kept_instead_of_reading_again(settings):
    hub = await joined(settings)
    source = Source()
    snapshots = TopicSnapshots(
        source.load, topic_of=lambda key: f"topic.{key}", max_age=60.0, amend=amend_totals
    )
    assert await snapshots.get("a") == ("a", 0)
    hub.deliver("topic.a", make_event("viewers", {"count": 3}))
    hub.deliver("topic.a", make_event("reactions", {"total": 5}))
    assert [await snapshots.get("a") for _ in range(3)] == [("a", 5)] * 3
    hub.deliver("topic.a", make_event("reactions", {"total": 6}))
    assert await snapshots.get("a") == ("a", 6)
    assert source.calls == 1
    source.version = 7
    hub.deliver("topic.a", make_event("comment.created", {}, event_id=1))  # not the owner's
    assert await snapshots.get("a") == ("a", 7)
    assert source.calls == 2


async def test_events_the_hub_no_longer_holds_take_a_new_read(settings):
    hub = await joined(settings)
    source = Source()
    snapshots = TopicSnapshots(
        source.load, topic_of=lambda key: f"topic.{key}", max_age=60.0, amend=amend_totals
    )
    await snapshots.get("a")
    hub.deliver("topic.a", make_event("reactions", {"total": 5}))
    [viewer] = hub.topics["topic.a"].owed
    await viewer.wait_for(1)
    assert not hub.topics["topic.a"].log  # every subscriber has it: the hub let it go
    source.version = 1
    assert await snapshots.get("a") == ("a", 1)
    assert source.calls == 2
