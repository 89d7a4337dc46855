"""A region that does not number a broadcast asks the region that does for its publishes in
batches: what a process publishes while its request is on its way goes in the next request,
numbered in order, with the same ids everywhere; when the home is out of reach, a batch is
numbered where it was published, as a single publish is."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.msg import Msg

from realtime.backends.base import Entry
from realtime.protocol import RESET, decode_event, encode_data, now_ms
from realtime.sender import Outgoing, Sender, add_pending
from tests.realtime.regions.test_across import hub_of, watch
from tests.realtime.regions.test_rehoming import assert_no_silent_gap
from tests.realtime.streamtools import consecutive
from tests.realtime.test_history import append

pytestmark = [pytest.mark.redis, pytest.mark.regions]


def submit(sender: Sender, topic: str, n: int) -> None:
    """Publish comment ``n`` through the process's sender, as ``realtime.publish`` does."""
    data = {"n": n}
    add_pending(sender.loop, 1)
    sender.submit(Outgoing(topic, "comment.created", data, encode_data(data), True, now_ms()))


def entries(topic: str, count: int) -> list[Entry]:
    return [(topic, "x", {"n": n}, now_ms(), encode_data({"n": n})) for n in range(count)]


async def test_publishes_during_a_round_trip_go_together_in_one_request(regions, region_store):
    eu, us = region_store("eu"), region_store("us")
    eu_viewer = await watch(hub_of(eu), "q.1", regions)
    us_viewer = await watch(hub_of(us), "q.1", regions)
    sender = Sender(asyncio.get_running_loop(), us)
    asked = regions["us"].sent_to("eu")

    submit(sender, "q.1", 0)
    await asyncio.sleep(regions.delay)  # the first is on its way to the home
    for n in range(1, 5):
        submit(sender, "q.1", n)

    for viewer in (eu_viewer, us_viewer):
        received = await viewer.wait_for(5)
        assert [e.data["n"] for e in received] == list(range(5))  # in the order published
        assert [e.id for e in received] == consecutive(received[0].id, 5)
    assert [e.encoded for e in us_viewer.events] == [e.encoded for e in eu_viewer.events]
    # Two requests crossed to the home: the first, and the four published meanwhile.
    assert regions["us"].sent_to("eu") - asked == 2


async def test_a_batch_is_numbered_in_order_after_the_homes_newest(regions, region_store):
    eu, us = region_store("eu"), region_store("us")
    await eu.start()  # eu answers appends (once its interest crossed: ``watch`` waits)
    us_viewer = await watch(hub_of(us), "q.2", regions)
    first = await append(eu, "q.2", {"from": "eu"})
    await us.append_many([*entries("q.2", 3), *entries("q.3", 2)])
    received = await us_viewer.wait_for(4)
    assert [(e.id, e.data) for e in received[1:]] == [
        (first.id + n, {"n": n - 1}) for n in (1, 2, 3)
    ]
    other = (await eu.replay("q.3", 0)).events
    assert [e.data["n"] for e in other] == [0, 1]


async def test_an_append_from_a_region_not_yet_upgraded_is_numbered_and_answered_alike(
    regions, region_store
):
    """A process from before batches asks with the event in the request itself and reads one
    event back: mid-deploy, such a region's publishes still get the home's next id."""
    eu = region_store("eu")
    await eu.start()
    first = await append(eu, "q.5", {"from": "eu"})
    client = await nats.connect(regions["eu"].nats_url)
    try:
        data_json = encode_data({"n": 1})
        ask = {"topic": "q.5", "type": "x", "ts": now_ms(), "data_json": data_json}
        ask.update(epoch=0, seq=0, hops=1)
        answer = await client.request(eu.subjects.append("eu"), json.dumps(ask).encode(), 5)
    finally:
        await client.close()
    event = decode_event(answer.data.decode())
    assert (event.id, event.data) == (first.id + 1, {"n": 1})
    assert [e.id for e in (await eu.replay("q.5", 0)).events] == [first.id, event.id]


@pytest.fixture
async def silent_home(regions, prefix) -> AsyncIterator[None]:
    """A process in eu that takes the appends asked of eu and never answers (a home that
    hangs, or replies that do not come back)."""
    client = await nats.connect(regions["eu"].nats_url)

    async def swallow(message: Msg) -> None:
        pass

    await client.subscribe(f"{prefix}.append.eu", queue="serve", cb=swallow)
    await client.flush()
    await asyncio.sleep(3 * regions.delay)  # its interest crosses the gateways
    yield
    await client.close()


async def test_a_batch_the_home_does_not_answer_is_numbered_here(
    regions, region_store, silent_home
):
    us = region_store("us")
    us.APPEND_TIMEOUT = 0.3
    us_viewer = await watch(hub_of(us), "q.4", regions)
    await us.append_many(entries("q.4", 3))  # times out, then numbered here
    started = asyncio.get_running_loop().time()
    await us.append_many(entries("q.4", 2))  # eu is passed over for a while: no wait
    assert asyncio.get_running_loop().time() - started < us.APPEND_TIMEOUT
    received = await us_viewer.wait_for(5)
    assert [e.data["n"] for e in received] == [0, 1, 2, 0, 1]
    assert [e.id for e in received] == consecutive(received[0].id, 5)
    _, lineage = await us.local.position("q.4")
    assert lineage is not None
    assert (lineage.owner, lineage.epoch) == ("us", received[0].id - 1)


async def test_a_batch_published_in_a_partition_is_numbered_here_as_one_publish_is(
    regions, region_store
):
    eu, us = region_store("eu"), region_store("us")
    us_viewer = await watch(hub_of(us), "q.5", regions)
    first = await append(eu, "q.5", {"n": "before"})
    await us_viewer.wait_for(1)

    regions.partition()
    try:
        await us.append_many(entries("q.5", 3))  # nobody serves eu's appends here: at once
        received = await us_viewer.wait_for(5)
    finally:
        await asyncio.to_thread(regions.heal)
    # As for a single publish: us starts numbering the broadcast (its viewers refetch once,
    # they may have missed eu's), the batch in order after the reset.
    assert received[1].type == RESET
    after = received[1].data["last_event_id"]
    assert after > first.id
    assert [(e.id, e.data["n"]) for e in received[2:]] == [(after + n + 1, n) for n in range(3)]
    assert_no_silent_gap(received)
