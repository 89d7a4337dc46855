"""Operators' endpoints: liveness, readiness, metrics, and 503s while the database is down."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.test import Client

from realtime import readiness

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_dependencies(client: Client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_the_database_and_redis(client: Client, settings, redis_url):
    settings.REDIS_URL = redis_url
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {
        "database": "ok",
        "redis": "ok",
        "pubsub": "ok",
        "nats": "not configured",
    }


def test_readyz_is_503_while_the_event_reader_reconnects(client: Client, settings, redis_url):
    settings.REDIS_URL = redis_url
    readiness.failing("pubsub")
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["pubsub"] == "reconnecting"
    finally:
        readiness.recovered("pubsub")
    assert client.get("/readyz").status_code == 200


def test_readyz_reports_redis_down(client: Client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("error")


def test_metrics_are_for_the_allowed_addresses_only(client: Client, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404
    # Through a local proxy the client is who the proxy says, not the proxy.
    forwarded = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    assert client.get("/metrics", **forwarded).status_code == 404
    settings.METRICS_ALLOWED = ["203.0.113.0/24"]
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 200


def test_metrics_are_prometheus_text(client: Client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert b"realtime_connections" in response.content


@pytest.mark.parametrize(("path", "json"), [("/api/broadcasts/", True), ("/", False)])
def test_database_errors_become_503(client: Client, monkeypatch, path, json):
    def broken(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("livevideo.selectors.broadcast_list", broken)
    monkeypatch.setattr("livevideo.selectors.broadcast_home", broken)
    response = client.get(path)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    if json:
        assert "unavailable" in response.json()["detail"]
