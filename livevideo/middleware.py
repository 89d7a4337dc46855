"""Answer 503 with a reason, not 500, while the database is unreachable."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "5"


def database_unavailable(request: HttpRequest, exception: Exception) -> HttpResponse | None:
    """A clear, retryable 503 when ``exception`` is a lost or refused database connection
    (JSON under ``/api/``, text elsewhere), else None."""
    if not isinstance(exception, OperationalError | InterfaceError):
        return None
    logger.warning("database unavailable: %s", exception)
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"detail": "The database is unavailable; try again shortly."}, status=503
        )
    else:
        response = HttpResponse(
            "The service is briefly unavailable; try again shortly.",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    response["Retry-After"] = RETRY_AFTER_SECONDS
    return response


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """A lost or refused database connection becomes a clear, retryable 503
    (``database_unavailable``; the SSE stream, which is not behind this middleware, answers
    with it too).

    Django closes the broken connection at the end of the request, so the next request
    reconnects by itself once the database is back: no restart needed.
    """

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return database_unavailable(request, exception)
