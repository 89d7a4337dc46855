"""Schemathesis fuzzes every operation in our OpenAPI schema: whatever it sends, no 500.

Valid and invalid inputs (positive and negative generation), signed in with a staff token on
a live broadcast, so write paths get past authentication and status checks into validation.
Bounded examples keep it to seconds. (schemathesis's own pytest plugin does not run under
pytest 9, so each operation is a parametrised case that drives hypothesis directly.)
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode

from tests.factories import BroadcastFactory, CommentFactory, UserFactory

SCHEMA = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}
EXAMPLES = 20


@pytest.fixture
def connections_kept_open():
    """Django's test client keeps the test's database connection open across a request; do the
    same for the WSGI app the fuzzer calls (otherwise request_finished closes it)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(db, settings, connections_kept_open) -> str:
    # Far more writes than a person sends: lift the limits so the fuzzer reaches the code
    # behind them rather than a 429.
    settings.RATE_LIMITS = {
        **settings.RATE_LIMITS,
        "COMMENT": (10**6, 1.0),
        "REACTION": (10**6, 1.0),
        "SIGN_IN": (10**6, 1.0),
        "ADDRESS_COMMENT": (0, 1.0),
        "ADDRESS_REACTION": (0, 1.0),
    }
    settings.COMMENT_RULES = {**settings.COMMENT_RULES, "DUPLICATE_WINDOW": 0}
    owner = UserFactory(username="fuzz-owner", is_staff=True)
    broadcast = BroadcastFactory(broadcaster=owner, live=True)
    CommentFactory(broadcast=broadcast)
    return Token.objects.create(user=owner).key


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_no_operation_answers_500(label, mode, token):
    operation = OPERATIONS[label]
    headers = {"Authorization": f"Token {token}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case):
        response = case.call(headers=headers)
        assert response.status_code < 500, (case.as_curl_command(), response.text[:500])

    try:
        fuzz()
    except Unsatisfiable:
        if mode != GenerationMode.NEGATIVE:
            raise
        pytest.skip("the operation takes no input to make invalid")
