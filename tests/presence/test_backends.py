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

        async def call(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **kwargs)

        return call


def conn(
    cid: str, user_id: int | None = None, topic: str = "broadcast.1", client: str | None = None
) -> PresenceConnection:
    return PresenceConnection(topic, cid, user_id, client)


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
            [conn(f"a{i}", i) for i in range(10)]
            + [conn(f"n{i}") for i in range(3)]  # anonymous viewers count too
            + [conn(f"b{i}", topic="broadcast.2") for i in range(3)]
        )
        for i in range(4):
            await api.remove([conn(f"a{i}", i)])
        await api.remove([conn("n0")])

        assert await api.viewer_counts(["broadcast.1", "broadcast.2", "broadcast.3"]) == {
            "broadcast.1": 8,
            "broadcast.2": 3,
            "broadcast.3": 0,
        }

    async def test_a_change_writes_opens_then_closes_and_counts_their_topics(
        self, api: Twin
    ) -> None:
        await api.heartbeat([conn("a"), conn("b", topic="broadcast.2")])
        counts = await api.change(
            [conn("c", 3), conn("d", 4, topic="broadcast.3"), conn("e", 5)],
            [conn("a"), conn("e", 5)],  # "e" opened and closed at once: removed
        )
        assert counts == {"broadcast.1": 1, "broadcast.3": 1}
        assert await api.viewer_counts(["broadcast.2"]) == {"broadcast.2": 1}
        assert await api.change([], []) == {}

    async def test_a_user_with_many_tabs_is_one_viewer(self, api: Twin) -> None:
        tabs = [conn(f"c{i}", 7) for i in range(3)]
        await api.heartbeat([*tabs, conn("d1", 8)])
        assert await api.viewer_counts(["broadcast.1"]) == {"broadcast.1": 2}

        await api.remove(tabs[:2])
        assert await api.viewer_counts(["broadcast.1"]) == {"broadcast.1": 2}

        await api.remove(tabs[2:])  # the last tab closes: no longer a viewer, at once
        assert await api.viewer_counts(["broadcast.1"]) == {"broadcast.1": 1}

    async def test_anonymous_viewers_count_once_per_client_address(self, api: Twin) -> None:
        home = [conn(f"h{i}", client="203.0.113.5") for i in range(4)]
        await api.heartbeat([*home, conn("o1", client="2001:db8::1"), conn("x1"), conn("x2")])
        # One address, one address, and two connections whose address is unknown.
        assert await api.viewer_counts(["broadcast.1"]) == {"broadcast.1": 4}

        await api.remove(home[:3])
        assert await api.viewer_counts(["broadcast.1"]) == {"broadcast.1": 4}
        await api.remove([home[3], conn("x1")])
        assert await api.viewer_counts(["broadcast.1"]) == {"broadcast.1": 2}

    async def test_a_signed_in_user_counts_apart_from_their_address(self, api: Twin) -> None:
        await api.heartbeat([conn("c1", 7, client="203.0.113.5"), conn("c2", client="203.0.113.5")])

        assert await api.viewer_counts(["broadcast.1"]) == {"broadcast.1": 2}

    async def test_a_tab_that_stopped_heartbeating_counts_until_it_lapses(
        self, api: Twin, clock: FakeClock
    ) -> None:
        await api.heartbeat([conn("c1", 7)])  # its process dies: never closed
        clock.advance(10)
        await api.heartbeat([conn("c2", 7)])
        await api.remove([conn("c2", 7)])
        assert await api.viewer_counts(["broadcast.1"]) == {"broadcast.1": 1}

        clock.advance(TTL - 10 + 0.01)

        assert await api.viewer_counts(["broadcast.1"]) == {"broadcast.1": 0}

    async def test_users_present_lists_signed_in_users_on_the_topic(
        self, api: Twin, clock: FakeClock
    ) -> None:
        await api.heartbeat(
            [conn("c1", 7), conn("c2", 7), conn("c3", 8), conn("c4"), conn("c5", 9, "broadcast.2")]
        )
        await api.remove([conn("c3", 8)])
        assert await api.users_present("broadcast.1", limit=10) == {7, 8}  # 8: in grace

        clock.advance(GRACE + 0.01)

        assert await api.users_present("broadcast.1", limit=10) == {7}
        assert await api.users_present("broadcast.2", limit=10) == {9}
        assert await api.users_present("broadcast.3", limit=10) == set()

    async def test_users_present_are_bounded_latest_first(
        self, api: Twin, clock: FakeClock
    ) -> None:
        await api.heartbeat([conn("c1", 1), conn("c2", 2)])
        clock.advance(1)
        await api.heartbeat([conn("c3", 3), conn("c4", 4)])

        assert await api.users_present("broadcast.1", limit=2) == {3, 4}
        assert len(await api.users_present("broadcast.1", limit=3)) == 3

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
        assert await api.users_present("broadcast.1", limit=5) == set()


class TestMemoryPresenceStore(PresenceStoreContract):
    @pytest.fixture
    def store(self, clock: FakeClock) -> PresenceStore:
        return MemoryPresenceStore(ttl=TTL, grace=GRACE, clock=clock)


class SharedPresenceStoreContract(PresenceStoreContract):
    """A Redis store shared by processes: each test's ``other`` is another process's store."""

    @pytest.fixture
    async def store(self, clock: FakeClock, url: str) -> AsyncIterator[PresenceStore]:
        store = RedisPresenceStore(url=url, ttl=TTL, grace=GRACE, clock=clock)
        yield store
        await store.aclose()

    @pytest.fixture
    async def other(self, clock: FakeClock, url: str) -> AsyncIterator[PresenceStore]:
        store = RedisPresenceStore(url=url, ttl=TTL, grace=GRACE, clock=clock)
        yield store
        await store.aclose()

    async def test_processes_share_one_view(
        self, store: PresenceStore, other: PresenceStore
    ) -> None:
        store.heartbeat([conn("c1", 7)])
        await other.aheartbeat([conn("c2")])

        assert other.viewer_counts(["broadcast.1"]) == {"broadcast.1": 2}
        assert (await store.ausers_presence([7]))[7].online
        assert await other.ausers_present("broadcast.1", limit=5) == {7}

    async def test_a_tab_open_in_another_process_keeps_its_viewer_counted(
        self, store: PresenceStore, other: PresenceStore
    ) -> None:
        store.heartbeat([conn("c1", 7), conn("a1", client="203.0.113.5")])
        await other.aheartbeat([conn("c2", 7), conn("a2", client="203.0.113.5")])

        store.remove([conn("c1", 7), conn("a1", client="203.0.113.5")])
        assert other.viewer_counts(["broadcast.1"]) == {"broadcast.1": 2}
        await other.aremove([conn("c2", 7)])
        assert store.viewer_counts(["broadcast.1"]) == {"broadcast.1": 1}


@pytest.mark.redis
class TestRedisPresenceStore(SharedPresenceStoreContract):
    @pytest.fixture
    def url(self, redis_url: str) -> str:
        return redis_url


@pytest.mark.slow
class TestRedisClusterPresenceStore(SharedPresenceStoreContract):
    @pytest.fixture
    def url(self, redis_cluster_url: str) -> str:
        return redis_cluster_url


@pytest.mark.parametrize(
    ("method", "args", "kwargs"),
    [
        ("heartbeat", ([],), {}),
        ("remove", ([],), {}),
        ("viewer_counts", ([],), {}),
        ("users_on_topic", ("t", []), {}),
        ("users_present", ("t",), {"limit": 1}),
        ("users_presence", ([],), {}),
    ],
)
def test_base_class_names_the_method_a_backend_lacks(
    method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    store = PresenceStore(ttl=TTL, grace=GRACE)
    with pytest.raises(NotImplementedError, match=rf"must provide a {method}\(\) method"):
        getattr(store, method)(*args, **kwargs)


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
