"""Browsers get DRF's browsable API on every endpoint (HTML), JSON clients get JSON."""

from __future__ import annotations

import pytest

from tests.factories import CommentFactory

PATHS = [
    "/api/broadcasts/",
    "/api/broadcasts/{id}/",
    "/api/broadcasts/{id}/comments/",
    "/api/broadcasts/{id}/reactions/",
    "/api/broadcasts/{id}/viewers/",
    "/api/presence/?user_ids=1",
]


@pytest.mark.parametrize("path", PATHS)
def test_a_signed_in_browser_gets_html(client_for, viewer, live, path) -> None:
    CommentFactory(broadcast=live)

    response = client_for(viewer).get(path.format(id=live.pk), HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
