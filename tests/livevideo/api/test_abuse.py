"""Spam at scale (issue 15, item 3): limits per client address for sign-up, comments and
reactions; repeated comments; an optional minimum account age for commenting."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from livevideo.models import Comment
from tests.factories import UserFactory


def comment(client_for, user, live, text: str, address: str = "203.0.113.7") -> int:
    response = client_for(user).post(
        f"/api/broadcasts/{live.pk}/comments/", {"text": text}, format="json", REMOTE_ADDR=address
    )
    return response.status_code


def sign_up(name: str, address: str) -> int:
    response = Client().post(
        "/accounts/signup/",
        {"username": name, "password1": "S3cret-horse!", "password2": "S3cret-horse!"},
        REMOTE_ADDR=address,
    )
    return response.status_code


@pytest.mark.django_db
def test_sign_ups_are_limited_per_address(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "ADDRESS_SIGN_UP": (3, 3600.0)}
    assert [sign_up(f"bot{i}", "203.0.113.7") for i in range(4)] == [302, 302, 302, 429]
    assert sign_up("neighbour", "198.51.100.2") == 302


def test_comments_are_limited_per_address_across_accounts(client_for, live, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "ADDRESS_COMMENT": (3, 10.0)}
    bots = [UserFactory() for _ in range(4)]
    assert [comment(client_for, bot, live, f"hi {i}") for i, bot in enumerate(bots)] == [
        201,
        201,
        201,
        429,
    ]
    assert comment(client_for, UserFactory(), live, "hello", address="198.51.100.2") == 201
    assert Comment.objects.count() == 4


def test_reactions_are_limited_per_address(client_for, live, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "ADDRESS_REACTION": (2, 1.0)}
    codes = [
        client_for(UserFactory())
        .post(
            f"/api/broadcasts/{live.pk}/reactions/",
            {"kind": "like"},
            format="json",
            REMOTE_ADDR="203.0.113.7",
        )
        .status_code
        for _ in range(3)
    ]
    assert codes == [202, 202, 429]


def test_the_same_comment_twice_is_refused_with_a_reason(client_for, viewer, live):
    assert comment(client_for, viewer, live, "Buy now") == 201
    response = client_for(viewer).post(
        f"/api/broadcasts/{live.pk}/comments/", {"text": "buy NOW"}, format="json"
    )
    assert response.status_code == 400
    assert "same comment" in response.json()["text"][0]
    assert comment(client_for, viewer, live, "Something else") == 201
    assert comment(client_for, UserFactory(), live, "Buy now", address="198.51.100.2") == 201


def test_duplicates_are_allowed_again_after_the_window(client_for, viewer, live, settings):
    settings.COMMENT_RULES = {**settings.COMMENT_RULES, "DUPLICATE_WINDOW": 60}
    assert comment(client_for, viewer, live, "Again") == 201
    Comment.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    assert comment(client_for, viewer, live, "Again") == 201


def test_a_minimum_account_age_for_commenting(client_for, live, settings):
    settings.COMMENT_RULES = {**settings.COMMENT_RULES, "MIN_ACCOUNT_AGE": 600}
    newcomer = UserFactory()
    response = client_for(newcomer).post(
        f"/api/broadcasts/{live.pk}/comments/", {"text": "first!"}, format="json"
    )
    assert response.status_code == 403
    assert "10 minutes" in response.json()["detail"]
    old_hand = UserFactory(date_joined=timezone.now() - timedelta(hours=1))
    assert comment(client_for, old_hand, live, "first!") == 201
