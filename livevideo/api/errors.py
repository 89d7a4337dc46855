"""Every API error is JSON with a reason: DRF's own errors plus the services' and Django's.

Services raise ``livevideo.errors``; this turns each into the DRF exception with the matching
status (InvalidInput 400, NotAllowed 403, WrongStatus 409, RateLimited 429 with Retry-After)
before DRF renders it.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, SuspiciousOperation
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from livevideo.errors import InvalidInput, NotAllowed, RateLimited, ServiceError, WrongStatus


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The resource's state does not allow this."
    default_code = "conflict"


def _from_service(exc: ServiceError) -> exceptions.APIException:
    if isinstance(exc, InvalidInput):
        detail = {exc.field: [exc.message]} if exc.field else {"detail": exc.message}
        return exceptions.ValidationError(detail, code=exc.code)
    if isinstance(exc, NotAllowed):
        return exceptions.PermissionDenied(exc.message, code=exc.code)
    if isinstance(exc, WrongStatus):
        return Conflict(exc.message, code=exc.code)
    if isinstance(exc, RateLimited):
        return exceptions.Throttled(wait=exc.retry_after, detail=exc.message, code=exc.code)
    return exceptions.ValidationError({"detail": exc.message}, code=exc.code)


def translate(exc: Exception) -> Exception:
    """The DRF exception that answers ``exc`` (``exc`` itself when DRF knows it already)."""
    if isinstance(exc, ServiceError):
        return _from_service(exc)
    if isinstance(exc, ObjectDoesNotExist):
        return exceptions.NotFound()
    if isinstance(exc, SuspiciousOperation):
        # Raised while parsing an oversized or malformed body (e.g. RequestDataTooBig).
        return exceptions.ParseError(str(exc) or "Malformed request.")
    return exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's ``EXCEPTION_HANDLER``; ``None`` lets anything unexpected surface as a 500."""
    return drf_exception_handler(translate(exc), context)
