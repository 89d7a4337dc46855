"""Statements sent as SQL text (``livevideo.sqltext``): rows inserted in statements of
``ROWS_PER_INSERT``, each given its own id, on PostgreSQL and on SQLite."""

from __future__ import annotations

import pytest

from livevideo import services, sqltext
from livevideo.models import Comment, Reaction
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
