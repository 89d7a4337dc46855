"""Liveness, readiness and metrics endpoints for operators and load balancers."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import realtime.metrics  # noqa: F401  (registers the platform's metrics)
from realtime import readiness
from realtime.clientaddress import request_client_address
from realtime.runtime import config as realtime_config

READY_TIMEOUT = 1.0


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and answering (no dependency is checked)."""
    return JsonResponse({"status": "ok"})


def _database_ok() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _redis_ok() -> str:
    if not settings.REDIS_URL:
        return "not configured"
    try:
        redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=READY_TIMEOUT, socket_connect_timeout=READY_TIMEOUT
        ).ping()
    except redis.RedisError as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _pubsub_ok() -> str:
    if not settings.REDIS_URL:
        return "not configured"
    return "reconnecting" if readiness.is_failing("pubsub") else "ok"


def _nats_ok() -> str:
    """With the regions backend on: this region's NATS server answers a PING. Over a plain
    socket: the NATS client is asynchronous and this view is not, and the handshake is two
    lines (docs.nats.io, "Client Protocol")."""
    config = realtime_config()
    if not config.region:
        return "not configured"
    url = urlsplit(config.nats_url)
    try:
        with socket.create_connection(
            (url.hostname or "127.0.0.1", url.port or 4222), timeout=READY_TIMEOUT
        ) as conn:
            answer = conn.makefile("rb")
            if not answer.readline().startswith(b"INFO "):
                return "error: not a NATS server"
            conn.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
            if answer.readline() != b"PONG\r\n":
                return "error: no PONG"
    except OSError as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready for traffic: the database answers and, when configured, Redis does too, this
    process's event reader is subscribed (not waiting to reconnect), and with regions the
    region's NATS server answers (without it nothing crosses to or from the other regions)."""
    checks = {
        "database": _database_ok(),
        "redis": _redis_ok(),
        "pubsub": _pubsub_ok(),
        "nats": _nats_ok(),
    }
    ready = all(value in ("ok", "not configured") for value in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """This process's Prometheus metrics, for the addresses in ``METRICS_ALLOWED`` only
    (anyone else gets the same 404 as an unknown page)."""
    client = request_client_address(request)
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        raise Http404 from None
    if not any(address in ipaddress.ip_network(n, strict=False) for n in settings.METRICS_ALLOWED):
        raise Http404
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
