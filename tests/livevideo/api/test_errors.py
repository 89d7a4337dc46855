"""livevideo.api.errors: each service error and Django error becomes one JSON answer."""

from __future__ import annotations

import pytest
from django.core.exceptions import RequestDataTooBig
from rest_framework.exceptions import ValidationError

from livevideo.api.errors import exception_handler
from livevideo.errors import InvalidInput, NotAllowed, RateLimited, WrongStatus
from livevideo.models import Broadcast


@pytest.mark.parametrize(
    ("exc", "status", "body"),
    [
        (InvalidInput("Too long.", field="text"), 400, {"text": ["Too long."]}),
        (InvalidInput("Nope."), 400, {"detail": "Nope."}),
        (NotAllowed("Not yours."), 403, {"detail": "Not yours."}),
        (WrongStatus("Not live."), 409, {"detail": "Not live."}),
        (Broadcast.DoesNotExist(), 404, {"detail": "Not found."}),
        (RequestDataTooBig("Too big."), 400, {"detail": "Too big."}),
        (ValidationError({"title": ["Bad."]}), 400, {"title": ["Bad."]}),
    ],
)
def test_errors_become_json_with_a_reason(exc: Exception, status: int, body: dict) -> None:
    response = exception_handler(exc, {})

    assert response is not None
    assert (response.status_code, response.data) == (status, body)


def test_rate_limits_are_429_with_retry_after() -> None:
    response = exception_handler(RateLimited("Slow down.", retry_after=2.2), {})

    assert response is not None
    assert response.status_code == 429
    assert response.data["detail"].startswith("Slow down.")
    assert response["Retry-After"] == "3"


def test_unexpected_errors_are_left_to_surface_as_500() -> None:
    assert exception_handler(RuntimeError("bug"), {}) is None
