"""POST /api/auth/token/"""

from __future__ import annotations

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import PASSWORD
from tests.livevideo.api.asserts import assert_error

URL = "/api/auth/token/"


def test_viewer_gets_the_same_token_each_time(anonymous: APIClient, viewer) -> None:
    first = anonymous.post(URL, {"username": "vera", "password": PASSWORD}, format="json")
    second = anonymous.post(URL, {"username": "vera", "password": PASSWORD}, format="json")

    assert first.status_code == 200
    assert first.json() == {"token": Token.objects.get(user=viewer).key}
    assert second.json() == first.json()


def test_wrong_password_is_refused_with_a_reason(anonymous: APIClient, viewer) -> None:
    response = anonymous.post(URL, {"username": "vera", "password": "nope"}, format="json")

    assert_error(response, 400, "non_field_errors")
    assert not Token.objects.exists()


def test_missing_password_names_the_field(anonymous: APIClient, viewer) -> None:
    assert_error(anonymous.post(URL, {"username": "vera"}, format="json"), 400, "password")


def test_a_form_post_works_too(anonymous: APIClient, viewer) -> None:
    response = anonymous.post(URL, {"username": "vera", "password": PASSWORD})

    assert response.status_code == 200
    assert response.json()["token"]
