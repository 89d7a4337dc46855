"""The presence store contract, run against every backend, through both sync and async APIs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from presence.backends import PresenceConnection, PresenceStore, UserState, get_store
from presence.backends.memory import MemoryPresenceStore
from presence.backends.redis import RedisPresenceStore
from tests.presence.conftest import FakeClock

TTL = 25.0  # heartbeat interval 15 + grace 10
GRACE = 10.0


class Twin:
    """Calls a store through its sync methods or their async twins, behind one awaitable API."""

    def __init__(self, store: PresenceStore, *, asynchronous: bool):
        self.store = store
        self.asynchronous = asynchronous

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if self.asynchronous:
            return getattr(self.store, f"a{name}")
        method = getattr(self.store, name)

        async def call(*args: Any) -> Any:
            return method(*args)

        return call


def conn(cid: str, user_id: int | None = None, topic: str = "broadcast.1") -> PresenceConnection:
    return PresenceConnection(topic, cid, user_id)


class PresenceStoreContract:
    """Contract tests; a subclass per backend provides the ``store`` fixture."""

    @pytest.fixture(params=["sync", "async"])
    def api(self, request: pytest.FixtureRequest, store: PresenceStore) -> Twin:
        return Twin(store, asynchronous=request.param == "async")

    async def test_unknown_user_is_offline_and_never_seen(self, api: Twin) -> None:
        assert await api.users_presence([7]) == {7: UserState(False, None)}

    async def test_online_at_first_heartbeat(self, api: Twin, clock: FakeClock) -> None:
        await api.heartbeat([conn("c1", 7)])

        assert await api.users_presence([7, 8]) == {
            7: UserState(True, clock.now),
            8: UserState(False, None),
        }
        assert await api.users_on_topic("broadcast.1", [7, 8]) == {7}
        assert await api.users_on_topic("broadcast.2", [7]) == set()

    async def test_closed_connection_stops_counting_at_once(self, api: Twin) -> None:
        await api.heartbeat([conn("c1", 7), conn("c2")])
        await api.remove([conn("c1", 7)])

        assert await api.viewer_counts(["broadcast.1"]) == {"broadcast.1": 1}

    async def test_user_stays_online_through_a_reconnect_inside_the_grace_period(
        self, api: Twin, clock: FakeClock
    ) -> None:
        await api.heartbeat([conn("c1", 7)])
        await api.remove([conn("c1", 7)])
        clock.advance(GRACE - 1)
        assert (await api.users_presence([7]))[7].online

        await api.heartbeat([conn("c2", 7)])
        clock.advance(2)  # past the first connection's grace period

        assert (await api.users_presence([7]))[7].online
        assert await api.users_on_topic("broadcast.1", [7]) == {7}

    async def test_offline_after_the_grace_period(self, api: Twin, clock: FakeClock) -> None:
        await api.heartbeat([conn("c1", 7)])
        clock.advance(3)
        await api.remove([conn("c1", 7)])
        closed_at = clock.now
        clock.advance(GRACE - 0.01)
        assert (await api.users_presence([7]))[7].online

        clock.advance(0.02)

        assert await api.users_presence([7]) == {7: UserState(False, closed_at)}
        assert await api.users_on_topic("broadcast.1", [7]) == set()

    async def test_user_with_another_connection_stays_online(
        self, api: Twin, clock: FakeClock
    ) -> None:
        await api.heartbeat([conn("c1", 7), conn("c2", 7, topic="broadcast.2")])
        await api.remove([conn("c1", 7)])
        clock.advance(GRACE + 1)

        assert (await api.users_presence([7]))[7].online
        assert await api.users_on_topic("broadcast.1", [7]) == set()
        assert await api.users_on_topic("broadcast.2", [7]) == {7}

    async def test_last_seen_is_the_latest_heartbeat(self, api: Twin, clock: FakeClock) -> None:
        await api.heartbeat([conn("c1", 7)])
        clock.advance(15)
        await api.heartbeat([conn("c1", 7)])

        assert (await api.users_presence([7]))[7].last_seen == clock.now

    async def test_viewer_count_is_exact(self, api: Twin) -> None:
        await api.heartbeat(
            [conn(f"a{i}", i % 3 or None) for i in range(10)]  # anonymous viewers count too
            + [conn(f"b{i}", topic="broadcast.2") for i in range(3)]
        )
        for i in range(4):
            await api.remove([conn(f"a{i}", i % 3 or None)])

        assert await api.viewer_counts(["broadcast.1", "broadcast.2", "broadcast.3"]) == {
            "broadcast.1": 6,
            "broadcast.2": 3,
            "broadcast.3": 0,
        }

    async def test_many_connections_close_in_one_batch(self, api: Twin, clock: FakeClock) -> None:
        await api.heartbeat(
            [conn(f"a{i}", i % 4 or None) for i in range(12)]  # users 1-3, three tabs each
            + [conn(f"b{i}", 5, topic="broadcast.2") for i in range(2)]
        )
        await api.remove(
            [conn(f"a{i}", i % 4 or None) for i in range(8)]  # users 1-3 keep one tab each
            + [conn(f"b{i}", 5, topic="broadcast.2") for i in range(2)]
        )
        closed_at = clock.now

        assert await api.viewer_counts(["broadcast.1", "broadcast.2"]) == {
            "broadcast.1": 4,
            "broadcast.2": 0,
        }
        clock.advance(GRACE - 0.01)
        assert await api.users_on_topic("broadcast.2", [5]) == {5}  # in grace
        clock.advance(0.02)
        assert await api.users_on_topic("broadcast.1", [1, 2, 3]) == {1, 2, 3}
        assert await api.users_presence([5]) == {5: UserState(False, closed_at)}

    async def test_connections_without_heartbeat_lapse(self, api: Twin, clock: FakeClock) -> None:
        await api.heartbeat([conn("c1", 7), conn("c2", 8)])
        clock.advance(TTL / 2)
        await api.heartbeat([conn("c2", 8)])
        clock.advance(TTL / 2 - 0.01)
        assert await api.viewer_counts(["broadcast.1"]) == {"broadcast.1": 2}

        clock.advance(0.02)

        assert await api.viewer_counts(["broadcast.1"]) == {"broadcast.1": 1}
        presence = await api.users_presence([7, 8])
        assert (presence[7].online, presence[8].online) == (False, True)

    async def test_empty_batches(self, api: Twin) -> None:
        await api.heartbeat([])
        await api.remove([])
        assert await api.viewer_counts([]) == {}
        assert await api.users_presence([]) == {}
        assert await api.users_on_topic("broadcast.1", []) == set()


class TestMemoryPresenceStore(PresenceStoreContract):
    @pytest.fixture
    def store(self, clock: FakeClock) -> PresenceStore:
        return MemoryPresenceStore(ttl=TTL, grace=GRACE, clock=clock)


@pytest.mark.redis
class TestRedisPresenceStore(PresenceStoreContract):
    @pytest.fixture
    async def store(self, clock: FakeClock, redis_url: str) -> AsyncIterator[PresenceStore]:
        store = RedisPresenceStore(url=redis_url, ttl=TTL, grace=GRACE, clock=clock)
        yield store
        await store.aclose()

    async def test_processes_share_one_view(self, store: PresenceStore, redis_url: str) -> None:
        other = RedisPresenceStore(url=redis_url, ttl=TTL, grace=GRACE, clock=store.clock)
        store.heartbeat([conn("c1", 7)])
        await other.aheartbeat([conn("c2")])

        assert other.viewer_counts(["broadcast.1"]) == {"broadcast.1": 2}
        assert (await store.ausers_presence([7]))[7].online
        await other.aclose()


@pytest.mark.slow
class TestRedisClusterPresenceStore(PresenceStoreContract):
    @pytest.fixture
    async def store(self, clock: FakeClock, redis_cluster_url: str) -> AsyncIterator[PresenceStore]:
        store = RedisPresenceStore(url=redis_cluster_url, ttl=TTL, grace=GRACE, clock=clock)
        yield store
        await store.aclose()


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("heartbeat", ([],)),
        ("remove", ([],)),
        ("viewer_counts", ([],)),
        ("users_on_topic", ("t", [])),
        ("users_presence", ([],)),
    ],
)
def test_base_class_names_the_method_a_backend_lacks(method: str, args: tuple[Any, ...]) -> None:
    store = PresenceStore(ttl=TTL, grace=GRACE)
    with pytest.raises(NotImplementedError, match=rf"must provide a {method}\(\) method"):
        getattr(store, method)(*args)


@pytest.mark.redis
def test_store_is_built_from_settings_once_and_rebuilt_when_they_change(
    settings: Any, redis_url: str
) -> None:
    settings.PRESENCE = {
        **settings.PRESENCE,
        "BACKEND": "presence.backends.memory.MemoryPresenceStore",
        "OPTIONS": {},
    }
    store = get_store()
    assert isinstance(store, MemoryPresenceStore)
    assert get_store() is store
    assert (store.ttl, store.grace) == (
        settings.PRESENCE["HEARTBEAT_INTERVAL"] + settings.PRESENCE["GRACE_PERIOD"],
        settings.PRESENCE["GRACE_PERIOD"],
    )

    settings.PRESENCE = {
        **settings.PRESENCE,
        "BACKEND": "presence.backends.redis.RedisPresenceStore",
        "OPTIONS": {"url": redis_url},
    }

    assert isinstance(get_store(), RedisPresenceStore)
    assert get_store().url == redis_url
