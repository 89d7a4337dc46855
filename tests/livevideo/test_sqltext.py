"""Statements sent as SQL text (``livevideo.sqltext``): rows inserted in statements of
``ROWS_PER_INSERT``, each given its own id; reads and writes sent together (one round trip
on PostgreSQL), each read as its own and a transaction's writes all or nothing; on
PostgreSQL and on SQLite."""

from __future__ import annotations

import pytest
from django.db import IntegrityError
from django.utils import timezone
from rest_framework.authtoken.models import Token

from livevideo import services, sqltext
from livevideo.models import Comment, Reaction
from livevideo.write_selectors import broadcasts_by_id_query, users_by_token_query
from tests.factories import BroadcastFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_comments_stored_over_several_statements_each_get_their_own_row(monkeypatch):
    monkeypatch.setattr(sqltext, "ROWS_PER_INSERT", 2)
    live = BroadcastFactory(live=True)
    authors = [UserFactory() for _ in range(5)]
    stored = services.comments_record(
        broadcast=live, posts=[(author, f"hello {i}") for i, author in enumerate(authors)]
    )
    rows = {c.pk: (c.text, c.author_id, c.created_at) for c in Comment.objects.all()}
    assert {c.pk: (c.text, c.author_id, c.created_at) for c in stored} == rows
    assert [c.text for c in stored] == [f"hello {i}" for i in range(5)]
    assert all(not c._state.adding for c in stored)


def test_taps_stored_over_several_statements_are_all_counted(monkeypatch):
    monkeypatch.setattr(sqltext, "ROWS_PER_INSERT", 2)
    live = BroadcastFactory(live=True)
    viewer = UserFactory()
    assert services.reactions_record(broadcast=live, taps=[(viewer, "like")] * 5) == 5
    assert Reaction.objects.filter(broadcast=live, kind="like").count() == 5
    assert live.reaction_totals.get(kind="like").count == 5


def test_reads_sent_together_each_read_as_its_own(django_assert_num_queries):
    live, other = BroadcastFactory(live=True), BroadcastFactory()
    viewer = UserFactory()
    key = Token.objects.create(user=viewer).key
    # On PostgreSQL one query of several statements; elsewhere one query each.
    with django_assert_num_queries(1 if sqltext._together() else 2):
        tokens, nobody, broadcasts = sqltext.read_together(
            users_by_token_query([key, "not-a-token"]),
            users_by_token_query([]),  # nothing to ask: no statement
            broadcasts_by_id_query([other.pk, live.pk]),
        )
    assert {k: u.pk for k, u in tokens.items()} == {key: viewer.pk}
    assert nobody == {}
    assert sorted(broadcasts) == sorted([live.pk, other.pk])


def test_a_lone_read_is_one_statement(django_assert_num_queries):
    live = BroadcastFactory(live=True)
    with django_assert_num_queries(1):
        assert list(sqltext.read(broadcasts_by_id_query([live.pk]))) == [live.pk]


@pytest.mark.django_db(transaction=True)
def test_statements_executed_together_are_one_transaction():
    live = BroadcastFactory(live=True)
    viewer = UserFactory()
    stored = sqltext.inserts(
        Reaction,
        ("broadcast_id", "user_id", "kind", "created_at"),
        [(live.pk, viewer.pk, "like", sqltext.db_value(Reaction, "created_at", timezone.now()))],
    )
    refused = (f"INSERT INTO {sqltext.table(Reaction)} (broadcast_id) VALUES (%s)", [live.pk])
    with pytest.raises(IntegrityError):  # the second breaks a NOT NULL: the first is undone
        sqltext.execute_together([*stored, refused])
    assert not Reaction.objects.exists()
    sqltext.execute_together(stored)
    assert Reaction.objects.filter(broadcast=live, user=viewer, kind="like").count() == 1


def test_a_batch_of_taps_is_written_in_one_query_on_postgresql(django_assert_num_queries):
    if not sqltext._together():
        pytest.skip("one statement a query here: the insert and the totals in a transaction")
    live = BroadcastFactory(live=True)
    viewers = [UserFactory() for _ in range(3)]
    with django_assert_num_queries(1):
        services.reactions_record(broadcast=live, taps=[(v, "like") for v in viewers])
    assert live.reaction_totals.get(kind="like").count == 3
