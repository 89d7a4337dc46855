"""How clients sign in: tokens without CSRF, sessions with CSRF, and JSON for every refusal."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils.crypto import get_random_string
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from livevideo import services
from livevideo.models import Broadcast
from tests.factories import PASSWORD
from tests.livevideo.api.asserts import assert_error

URL = "/api/broadcasts/"
BODY = {"title": "Hello"}


@pytest.fixture
def session(viewer) -> APIClient:
    """A browser: signed in with a session cookie, CSRF enforced as in production."""
    services.broadcaster_grant(user=viewer)  # so that creating a broadcast is allowed
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="vera", password=PASSWORD)
    return client


def test_token_writes_need_no_csrf(viewer) -> None:
    services.broadcaster_grant(user=viewer)
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=viewer).key}")

    assert client.post(URL, BODY, format="json").status_code == 201


def test_a_bad_token_is_401_with_a_challenge(anonymous: APIClient) -> None:
    anonymous.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = anonymous.get(URL)

    assert_error(response, 401)
    assert response["WWW-Authenticate"] == "Token"


def test_anonymous_writes_are_401_with_a_challenge(anonymous: APIClient) -> None:
    response = anonymous.post(URL, BODY, format="json")

    assert_error(response, 401)
    assert response["WWW-Authenticate"] == "Token"
    assert not Broadcast.objects.exists()


def test_session_writes_without_csrf_are_refused(session: APIClient) -> None:
    response = session.post(URL, BODY, format="json")

    assert "CSRF" in assert_error(response, 403)["detail"]
    assert not Broadcast.objects.exists()


def test_session_writes_with_csrf_succeed(session: APIClient) -> None:
    secret = get_random_string(32)
    session.cookies[settings.CSRF_COOKIE_NAME] = secret

    response = session.post(URL, BODY, format="json", HTTP_X_CSRFTOKEN=secret)

    assert response.status_code == 201
    assert response.json()["broadcaster"]["username"] == "vera"


def test_session_reads_need_no_csrf(session: APIClient) -> None:
    assert session.get(URL).status_code == 200


def test_unknown_api_paths_are_json_404(anonymous: APIClient) -> None:
    assert_error(anonymous.get("/api/nothing-here/"), 404)
    assert_error(anonymous.post("/api/broadcasts"), 404)


def test_unsupported_methods_are_json_405(client_for, viewer) -> None:
    assert_error(client_for(viewer).put(URL, BODY, format="json"), 405)
