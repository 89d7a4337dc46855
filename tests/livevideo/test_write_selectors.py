"""The reads a batch of writes makes, sent as SQL text (``livevideo.write_selectors``): each
gives what the ORM would, on PostgreSQL and on SQLite (datetimes aware, booleans booleans)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token

from livevideo import services
from livevideo.models import Broadcast, BroadcastBan
from livevideo.write_selectors import (
    bans_in_force,
    broadcasts_by_id,
    comment_texts_since,
    users_by_token,
)
from tests.factories import BroadcastFactory, UserFactory

pytestmark = pytest.mark.django_db


def fields(instance: object) -> dict[str, object]:
    """Every field's value, as the instance holds it (foreign keys by id)."""
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_a_broadcast_reads_as_the_orm_reads_it():
    broadcast = BroadcastFactory(live=True, allow_links=True, slow_mode_seconds=5)
    found = broadcasts_by_id([broadcast.pk, broadcast.pk + 1000])
    assert list(found) == [broadcast.pk]  # the one that does not exist left out
    read = found[broadcast.pk]
    assert fields(read) == fields(Broadcast.objects.get(pk=broadcast.pk))
    assert read.allow_links is True
    assert timezone.is_aware(read.started_at)
    assert (read._state.adding, read._state.db) == (False, "default")  # saved as loaded


def test_a_token_reads_as_its_user():
    user = UserFactory(first_name="Ada", last_name="Lovelace")
    inactive = UserFactory(is_active=False)
    keys = [Token.objects.create(user=u).key for u in (user, inactive)]
    found = users_by_token([*keys, "not-a-token"])
    assert set(found) == set(keys)
    assert fields(found[keys[0]]) == fields(get_user_model().objects.get(pk=user.pk))
    assert found[keys[0]].get_full_name() == "Ada Lovelace"
    assert found[keys[1]].is_active is False  # read: the caller refuses it
    assert timezone.is_aware(found[keys[0]].date_joined)


def test_only_bans_in_force_are_read():
    live = BroadcastFactory(live=True)
    banned, timed_out, served, other = UserFactory(), UserFactory(), UserFactory(), UserFactory()
    services.user_ban(broadcast=live, actor=live.broadcaster, user=banned)
    services.user_timeout(broadcast=live, actor=live.broadcaster, user=timed_out, seconds=60)
    services.user_timeout(broadcast=live, actor=live.broadcaster, user=served, seconds=60)
    BroadcastBan.objects.filter(user=served).update(until=timezone.now() - timedelta(seconds=1))
    bans = bans_in_force(
        broadcast_ids={live.pk}, user_ids={banned.pk, timed_out.pk, served.pk, other.pk}
    )
    by_user = {ban.user_id: ban for ban in bans}
    assert set(by_user) == {banned.pk, timed_out.pk}
    assert by_user[banned.pk].until is None
    assert by_user[timed_out.pk].until > timezone.now()
    assert fields(by_user[timed_out.pk]) == fields(BroadcastBan.objects.get(user=timed_out))


def test_recent_texts_are_read_per_broadcast_and_author():
    a, b = BroadcastFactory(live=True), BroadcastFactory(live=True)
    ada, bob = UserFactory(), UserFactory()
    services.comment_create(broadcast=a, author=ada, text="Hello There")
    services.comment_create(broadcast=b, author=bob, text="on b")
    services.comment_create(broadcast=a, author=bob, text="bob on a")
    since = timezone.now() - timedelta(minutes=1)
    said = comment_texts_since({(a.pk, ada.pk), (b.pk, bob.pk), (b.pk, ada.pk)}, since)
    assert said == {(a.pk, ada.pk, "hello there"), (b.pk, bob.pk, "on b")}
    assert comment_texts_since({(a.pk, ada.pk)}, timezone.now() + timedelta(seconds=1)) == set()


def test_empty_asks_read_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert users_by_token([]) == {}
        assert broadcasts_by_id([]) == {}
        assert bans_in_force(broadcast_ids=set(), user_ids={1}) == []
        assert comment_texts_since(set(), timezone.now()) == set()
