"""The per-process hub: local fan-out, and over Redis one subscription per topic that never
silently loses a recoverable event."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio
from redis.asyncio.cluster import RedisCluster

from realtime.backends.base import Replay
from realtime.backends.redis import RedisHistory, RedisHub
from realtime.backends.redis_cluster import RedisClusterHub
from realtime.cluster import async_cluster_client, is_cluster
from realtime.hub import Hub
from realtime.protocol import make_event
from realtime.runtime import get_history, get_hub
from tests.realtime.streamtools import realtime_settings
from tests.realtime.test_history import Collector, append


async def test_the_hub_hands_each_event_to_every_local_subscriber_of_its_topic(settings):
    realtime_settings(settings, HISTORY_BACKEND="realtime.backends.memory.MemoryHistory")
    hub = get_hub()
    assert type(hub) is Hub
    a, b, other = Collector(), Collector(), Collector()
    await hub.join("t", a)
    await hub.join("t", b)
    await hub.join("u", other)
    event = make_event("x", {})
    hub.deliver("t", event)
    assert await a.wait_for(1) == [event]
    assert await b.wait_for(1) == [event]
    assert a.events[0] is b.events[0]  # the same object: encoded once
    assert a.batches[0] is b.batches[0]  # and its frame is built once
    assert other.events == []
    hub.leave("t", a)
    hub.leave("t", a)  # idempotent
    hub.deliver("t", event)
    await b.wait_for(2)
    assert len(a.events) == 1
    hub.leave("t", b)
    hub.leave("u", other)
    assert hub.topics == {}


async def watching(settings: Any, *, flush_interval: float) -> tuple[Hub, Collector]:
    """An in-process hub and a subscriber of its topic "t"."""
    realtime_settings(
        settings,
        HISTORY_BACKEND="realtime.backends.memory.MemoryHistory",
        FLUSH_INTERVAL=flush_interval,
    )
    hub, viewer = get_hub(), Collector()
    await hub.join("t", viewer)
    return hub, viewer


async def test_events_that_arrive_together_go_out_together_in_order(settings):
    hub, viewer = await watching(settings, flush_interval=0)
    events = [make_event("x", {"n": n}, event_id=n) for n in range(1, 4)]
    for event in events:  # one turn of the loop, as when a fan-out held the loop meanwhile
        hub.deliver("t", event)
    assert await viewer.wait_for(3) == events
    assert len(viewer.batches) == 1
    assert viewer.batches[0].text == "[" + ",".join(e.encoded for e in events) + "]"
    assert (viewer.batches[0].first_id, viewer.batches[0].last_id) == (1, 3)


async def test_a_subscriber_owed_several_absolute_snapshots_of_a_type_gets_the_newest(settings):
    realtime_settings(
        settings,
        HISTORY_BACKEND="realtime.backends.memory.MemoryHistory",
        FLUSH_INTERVAL=0,
        LATEST_WINS=["count"],
    )
    hub, viewer = get_hub(), Collector()
    await hub.join("t", viewer)
    count_1, count_2 = make_event("count", {"n": 1}), make_event("count", {"n": 2})
    first, second = make_event("x", {}, event_id=1), make_event("x", {}, event_id=2)
    joined, left = make_event("list", {"joined": [1]}), make_event("list", {"left": [1]})
    for event in [count_1, first, count_2, joined, left, second]:  # behind: one frame
        hub.deliver("t", event)
    # Events with ids all go, and snapshots of other types (a list of who came and went).
    assert await viewer.wait_for(5) == [first, count_2, joined, left, second]
    hub.deliver("t", count_1)  # a lone one goes as it is
    assert (await viewer.wait_for(6))[-1] is count_1


async def test_a_topic_gets_at_most_one_fan_out_per_flush_interval(settings):
    hub, viewer = await watching(settings, flush_interval=0.2)
    loop = asyncio.get_running_loop()
    hub.deliver("t", make_event("x", {"n": 1}))
    await viewer.wait_for(1)  # the first event goes at once
    first_at = loop.time()
    hub.deliver("t", make_event("x", {"n": 2}))
    await asyncio.sleep(0.05)
    hub.deliver("t", make_event("x", {"n": 3}))
    await viewer.wait_for(3)
    assert loop.time() - first_at >= 0.19
    assert [[e.data["n"] for e in batch.events] for batch in viewer.batches] == [[1], [2, 3]]


async def test_an_event_that_arrives_during_a_sweep_joins_the_frames_of_those_not_reached_yet(
    settings, monkeypatch
):
    monkeypatch.setattr(Hub, "SWEEP_STEP", 2)
    hub, first = await watching(settings, flush_interval=0)
    later = [Collector() for _ in range(4)]
    for viewer in later:
        await hub.join("t", viewer)
    one, two = make_event("x", {"n": 1}, event_id=1), make_event("x", {"n": 2}, event_id=2)
    loop = asyncio.get_running_loop()
    pushed = first.push

    def arrives_meanwhile(batch: Any) -> bool:
        if batch.first_id == 1:  # during the sweep's first step
            loop.call_soon(hub.deliver, "t", two)
        return pushed(batch)

    first.push = arrives_meanwhile  # type: ignore[method-assign]
    hub.deliver("t", one)
    for viewer in [first, *later]:
        assert await viewer.wait_for(2) == [one, two]  # each once, in order
    frames = [[[e.id for e in batch.events] for batch in v.batches] for v in [first, *later]]
    # The first step (two viewers) had gone by when 2 arrived: they get it from the next sweep.
    assert frames == [[[1], [2]]] * 2 + [[[1, 2]]] * 3
    assert later[1].batches[0] is later[2].batches[0]  # one frame, built once


def _use(settings: Any, url: str) -> str:
    realtime_settings(
        settings,
        HISTORY_BACKEND="realtime.backends.redis.RedisHistory",
        REDIS_URL=url,
        HISTORY_SIZE=5,
    )
    return url


@pytest.fixture
def use_single_redis(settings: Any, redis_url: str) -> str:
    return _use(settings, redis_url)


@pytest.fixture(params=["single", "cluster"])
def use_redis(request: Any, settings: Any) -> str:
    """One Redis, or a Redis Cluster (the same setting: ``REDIS_URL`` names one of its nodes)."""
    fixture = "redis_url" if request.param == "single" else "redis_cluster_url"
    return _use(settings, request.getfixturevalue(fixture))


@pytest.fixture
async def client(use_redis: str) -> Any:
    if is_cluster(use_redis):
        client = async_cluster_client(use_redis)
        await client.initialize()
    else:
        client = redis.asyncio.Redis.from_url(use_redis)
    yield client
    await client.aclose()


def on_each_node(client: Any, topic: str) -> dict[str, Any]:
    """Options that send a command to the server of ``topic``'s channel (a cluster's node)."""
    if isinstance(client, RedisCluster):
        return {"target_nodes": client.get_node_from_key(get_history().channel(topic))}
    return {}


async def subscriptions(client: Any, topic: str) -> int:
    channel = get_history().channel(topic)
    if isinstance(client, RedisCluster):
        node = client.get_node_from_key(channel)
        reply = await client.execute_command("PUBSUB SHARDNUMSUB", channel, target_nodes=node)
        return dict(reply)[channel.encode()]
    return dict(await client.pubsub_numsub(channel))[channel.encode()]


async def eventually(check: Any, wait: float = 3) -> None:
    """Poll ``check`` until it holds (Redis state has no event to wait on)."""
    async with asyncio.timeout(wait):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def lost_append(client: Any, topic: str, event_id: int) -> None:
    """Store an event the way the append script does, but without publishing it: a pub/sub
    message that never arrived."""
    store = get_history()
    seq, log = store.key(topic, "seq"), store.key(topic, "log")
    await client.set(seq, event_id)
    await client.zadd(log, {make_event("x", {"n": event_id}, event_id=event_id).encoded: event_id})


@pytest.mark.redis
async def test_a_deployment_on_another_database_of_the_same_redis_is_not_heard(use_single_redis):
    # Pub/sub channels belong to the whole Redis server, keys to one database.
    hub, viewer = get_hub(), Collector()
    await hub.join("t", viewer)
    url = use_single_redis
    other_db = 1 + int(url.rsplit("/", 1)[1] or 0) % 15
    elsewhere = RedisHistory(size=5, redis_url=f"{url.rsplit('/', 1)[0]}/{other_db}")
    try:
        await append(elsewhere, "t", {"from": "elsewhere"})
        ours = await append(get_history(), "t", {"from": "here"})
        assert await viewer.wait_for(1) == [ours]
        await asyncio.sleep(0.05)
        assert viewer.events == [ours]
    finally:
        await elsewhere.clear("t")
        hub.leave("t", viewer)


@pytest.mark.redis
@pytest.mark.usefixtures("use_redis")
async def test_a_joining_viewers_replay_comes_from_what_the_hub_handed_on():
    hub, viewer, store = get_hub(), Collector(), get_history()
    await hub.join("t", viewer)
    # The first handed on before the rest is appended: a hub that lags behind a new topic's
    # first events until history has trimmed them resets its viewers instead (no gap).
    events = [await append(store, "t", {"n": 0})]
    await viewer.wait_for(1)
    events += [await append(store, "t", {"n": n}) for n in range(1, 7)]  # history keeps 5
    await viewer.wait_for(7)
    kept, last = events[2:], events[-1].id
    assert hub.recent_replay("t", None) == Replay(last)
    assert hub.recent_replay("t", last) == Replay(last)
    assert hub.recent_replay("t", events[3].id) == Replay(last, events[4:])
    assert hub.recent_replay("t", events[1].id) == Replay(last, kept)  # all that is kept
    assert hub.recent_replay("t", events[0].id) is None  # older: history says reset
    assert hub.recent_replay("t", last + 1) is None  # ahead of this process
    assert hub.recent_replay("unknown", None) is None
    assert await store.replay("t", events[3].id) == Replay(last, events[4:])  # as history says
    hub.leave("t", viewer)


@pytest.mark.redis
@pytest.mark.usefixtures("use_redis")
async def test_one_subscription_per_topic_however_many_local_connections(client):
    hub = get_hub()
    assert isinstance(hub, RedisClusterHub if isinstance(client, RedisCluster) else RedisHub)
    a, b = Collector(), Collector()
    await hub.join("t", a)
    await hub.join("t", b)
    assert await subscriptions(client, "t") == 1
    await append(get_history(), "t", {})
    await a.wait_for(1)
    await b.wait_for(1)
    assert a.events[0] is b.events[0]  # decoded once for both

    hub.leave("t", a)
    await asyncio.sleep(0.05)
    assert await subscriptions(client, "t") == 1
    hub.leave("t", b)  # the last one: unsubscribe, and the reader stops

    async def unsubscribed() -> bool:
        return await subscriptions(client, "t") == 0 and hub.connections == 0

    await eventually(unsubscribed)


@pytest.mark.redis
@pytest.mark.usefixtures("use_redis")
async def test_topics_are_subscribed_and_dropped_one_by_one(client):
    hub = get_hub()
    a, b = Collector(), Collector()
    await hub.join("t", a)
    await hub.join("u", b)
    assert (await subscriptions(client, "t"), await subscriptions(client, "u")) == (1, 1)
    hub.leave("t", a)

    async def t_dropped() -> bool:
        return await subscriptions(client, "t") == 0

    await eventually(t_dropped)
    event = await append(get_history(), "u", {})
    assert [e.id for e in await b.wait_for(1)] == [event.id]
    hub.leave("u", b)


@pytest.mark.redis
@pytest.mark.usefixtures("use_redis")
async def test_a_lost_message_is_filled_in_from_history(client):
    hub = get_hub()
    collector = Collector()
    await hub.join("t", collector)
    await lost_append(client, "t", 1)
    await append(get_history(), "t", {"n": 2})
    received = await collector.wait_for(2)
    await asyncio.sleep(0.05)
    assert [(e.id, e.data) for e in received] == [(1, {"n": 1}), (2, {"n": 2})]
    hub.leave("t", collector)


@pytest.mark.redis
@pytest.mark.usefixtures("use_redis")
async def test_a_gap_history_no_longer_covers_tells_clients_to_reset(client):
    hub = get_hub()
    collector = Collector()
    await hub.join("t", collector)
    store = get_history()
    await client.set(store.key("t", "seq"), 7)  # ids 1..7 went out, none arrived,
    await lost_append(client, "t", 7)  # and history only has the last of them
    await append(store, "t", {})
    reset, event = await collector.wait_for(2)
    assert (reset.type, reset.id, reset.data) == ("reset", None, {"last_event_id": 7})
    assert event.id == 8
    hub.leave("t", collector)


async def drop_connection(client: Any, hub: Hub, topic: str) -> None:
    """Kill the hub's pub/sub connection that carries ``topic``, as a network fault would."""
    node = on_each_node(client, topic)
    [connection] = [
        c
        for c in await client.client_list(_type="pubsub", **node)
        if c["name"] == hub.client_name  # type: ignore[attr-defined]
    ]
    await client.client_kill_filter(_id=connection["id"], **node)


@pytest.mark.redis
@pytest.mark.usefixtures("use_redis")
async def test_after_a_reconnect_what_was_published_meanwhile_is_filled_in(client):
    hub = get_hub()
    collector = Collector()
    await hub.join("t", collector)
    store = get_history()
    appended = [await append(store, "t", {})]
    await collector.wait_for(1)

    await drop_connection(client, hub, "t")
    for _ in range(3):
        appended.append(await append(store, "t", {}))  # published while the hub is not listening

    received = await collector.wait_for(4)
    await asyncio.sleep(0.1)
    assert [e.id for e in received] == [e.id for e in appended]
    appended.append(await append(store, "t", {}))
    assert [e.id for e in await collector.wait_for(5)] == [e.id for e in appended]
    hub.leave("t", collector)


@pytest.mark.redis
@pytest.mark.usefixtures("use_redis")
async def test_a_hub_there_before_the_first_event_fills_in_from_it_without_a_reset(client):
    """The hub saw the topic with no ids (0), and the first id comes from the clock: that
    is no gap in itself, and what it missed from the first event on is filled in."""
    hub = get_hub()
    collector = Collector()
    await hub.join("t", collector)
    store = get_history()
    await drop_connection(client, hub, "t")
    appended = [await append(store, "t", {}) for _ in range(3)]

    received = await collector.wait_for(3)
    await asyncio.sleep(0.1)
    assert [(e.type, e.id) for e in received] == [("x", e.id) for e in appended]
    hub.leave("t", collector)
