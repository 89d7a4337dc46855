"""GET /api/presence/?user_ids=1,2,3"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from presence.backends import PresenceConnection, PresenceStore
from tests.livevideo.api.asserts import assert_error

URL = "/api/presence/"


def test_unknown_users_are_offline_and_never_seen(anonymous: APIClient) -> None:
    body = anonymous.get(URL, {"user_ids": "424242"}).json()

    assert body == {"424242": {"online": False, "last_seen": None}}


def test_online_users_and_when_each_was_last_seen_to_the_minute(
    client_for, staff, viewer, presence_store: PresenceStore
) -> None:
    presence_store.heartbeat([PresenceConnection("broadcast.1", "a", viewer.pk)])

    body = client_for(staff).get(URL, {"user_ids": f" {viewer.pk}, 424242,{viewer.pk},"}).json()

    assert body == {
        str(viewer.pk): {"online": True, "last_seen": "2030-01-02T03:04:00Z"},
        "424242": {"online": False, "last_seen": None},
    }


def test_anonymous_callers_learn_who_is_online_but_not_when_anyone_was_seen(
    anonymous: APIClient, viewer, presence_store: PresenceStore
) -> None:
    presence_store.heartbeat([PresenceConnection("broadcast.1", "a", viewer.pk)])

    body = anonymous.get(URL, {"user_ids": str(viewer.pk)}).json()

    assert body == {str(viewer.pk): {"online": True, "last_seen": None}}


def test_up_to_100_ids(anonymous: APIClient) -> None:
    ids = ",".join(str(i) for i in range(1, 101))

    assert len(anonymous.get(URL, {"user_ids": ids}).json()) == 100


@pytest.mark.parametrize(
    "user_ids",
    [
        None,
        "",
        " , ",
        "abc",
        "1,-2",
        "1.5",
        "0",
        "\u0661",  # ARABIC-INDIC DIGIT ONE: a digit to str.isdigit, not an id
        "99999999999999999999",
        "9" * 5000,
        ",".join(str(i) for i in range(1, 102)),
    ],
)
def test_bad_ids_are_400_with_a_reason(anonymous: APIClient, user_ids) -> None:
    params = {} if user_ids is None else {"user_ids": user_ids}

    assert_error(anonymous.get(URL, params), 400, "user_ids")
