"""GET/POST /api/broadcasts/<id>/latency/"""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from tests.livevideo.api.asserts import assert_error
from tests.livevideo.api.conftest import ClientFor


@pytest.fixture(autouse=True)
def _own_cache_keys(settings):
    """A key prefix of its own per test: the shared Redis is never flushed."""
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": uuid.uuid4().hex}}


def test_viewers_report_and_the_broadcaster_sees_the_average(
    anonymous: APIClient, client_for: ClientFor, viewer, owner, live
) -> None:
    url = f"/api/broadcasts/{live.pk}/latency/"
    assert anonymous.post(url, {"latency_ms": 3000}, format="json").status_code == 202
    assert client_for(viewer).post(url, {"latency_ms": 5000}, format="json").status_code == 202

    body = client_for(owner).get(url).json()

    assert body == {"average_ms": 4000, "reports": 2}


def test_no_reports_is_a_null_average(client_for: ClientFor, owner, live) -> None:
    body = client_for(owner).get(f"/api/broadcasts/{live.pk}/latency/").json()

    assert body == {"average_ms": None, "reports": 0}


def test_viewers_may_not_read_it(client_for: ClientFor, viewer, anonymous, live) -> None:
    assert_error(client_for(viewer).get(f"/api/broadcasts/{live.pk}/latency/"), 403)
    assert_error(anonymous.get(f"/api/broadcasts/{live.pk}/latency/"), 401)


@pytest.mark.parametrize("value", [-1, 120_001, "soon", None, 1e99])
def test_bad_reports_are_400(anonymous: APIClient, live, value) -> None:
    response = anonymous.post(
        f"/api/broadcasts/{live.pk}/latency/", {"latency_ms": value}, format="json"
    )
    assert_error(response, 400, "latency_ms")


def test_reports_only_while_live(anonymous: APIClient, ended) -> None:
    response = anonymous.post(
        f"/api/broadcasts/{ended.pk}/latency/", {"latency_ms": 100}, format="json"
    )
    assert_error(response, 409)
