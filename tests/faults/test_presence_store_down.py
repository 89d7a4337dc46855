"""Presence reads while Redis is down or stuck: a bounded wait, then a degraded answer (counts
0, users offline, nobody listed) instead of a failed request. No server process: the store is
called here."""

from __future__ import annotations

import time

import pytest

from loadtest.servers import PrivateRedis
from presence.backends import PresenceConnection, StoreUnavailable, get_store
from presence.selectors import topic_users_present, topic_viewer_counts, users_presence

pytestmark = [pytest.mark.slow, pytest.mark.redis]

# The sync client's timeout is 1 s with one retry: about 2 s at worst, plus slack.
BOUNDED = 4.0


@pytest.fixture
def store_on(private_redis: PrivateRedis, settings):
    settings.PRESENCE = {
        **settings.PRESENCE,
        "BACKEND": "presence.backends.redis.RedisPresenceStore",
        "OPTIONS": {"url": private_redis.url},
    }
    store = get_store()
    store.heartbeat([PresenceConnection("broadcast.1", "c1", user_id=7)])
    assert topic_viewer_counts(["broadcast.1"]) == {"broadcast.1": 1}
    return store


@pytest.mark.parametrize("fault", ["stop", "pause"])
def test_reads_give_up_in_bounded_time_and_degrade(private_redis, store_on, fault):
    getattr(private_redis, fault)()

    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        store_on.viewer_counts(["broadcast.1"])
    assert time.monotonic() - started < BOUNDED

    started = time.monotonic()
    assert topic_viewer_counts(["broadcast.1", "broadcast.2"]) == {
        "broadcast.1": 0,
        "broadcast.2": 0,
    }
    assert users_presence([7]) == {7: {"online": False, "last_seen": None}}
    assert time.monotonic() - started < 2 * BOUNDED
    assert topic_users_present("broadcast.1") == set()


def test_reads_recover_once_redis_is_back(private_redis, store_on):
    private_redis.stop()
    assert topic_viewer_counts(["broadcast.1"]) == {"broadcast.1": 0}
    private_redis.start()  # empty: no persistence
    store_on.heartbeat([PresenceConnection("broadcast.1", "c1", user_id=7)])
    assert topic_viewer_counts(["broadcast.1"]) == {"broadcast.1": 1}
    assert users_presence([7])[7]["online"] is True
    assert topic_users_present("broadcast.1") == {7}
