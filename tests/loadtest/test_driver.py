"""Where the driver sends each reaction and comment, and as whom."""

from __future__ import annotations

from collections import Counter

from loadtest.driver import Driver, DriverConfig


def driver(broadcasts: list[int], users: int = 10) -> Driver:
    tokens = [f"token{i}" for i in range(users)]
    config = DriverConfig("127.0.0.1", [1], broadcasts, tokens, 100.0, 1.0, 1.0)
    return Driver(config, None)


def test_one_broadcast_takes_everything_from_the_users_in_turn():
    one = driver([7])
    assert [one._target("reaction", i) for i in range(3)] == [(7, 0), (7, 1), (7, 2)]
    assert [one._target("comment", i) for i in range(3)] == [(7, 0), (7, 1), (7, 2)]


def test_reactions_go_to_the_hottest_and_comments_take_the_broadcasts_in_turn():
    many = driver([7, 8, 9])
    assert {many._target("reaction", i)[0] for i in range(30)} == {7}
    assert [many._target("comment", i)[0] for i in range(6)] == [7, 8, 9, 7, 8, 9]


def test_each_broadcasts_comments_come_from_every_user_in_turn():
    users = 10
    many = driver(list(range(1_000)), users)
    comments = [many._target("comment", i) for i in range(1_000 * users)]
    per_broadcast = Counter((broadcast, turn % users) for broadcast, turn in comments)
    assert set(per_broadcast.values()) == {1}  # each user once per broadcast per round
