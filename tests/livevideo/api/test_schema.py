"""GET /api/schema/ and /api/docs/"""

from __future__ import annotations

import re

from django.contrib.staticfiles import finders
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

CONTRACT_PATHS = {
    "/api/auth/token/": {"post"},
    "/api/broadcasts/": {"get", "post"},
    "/api/broadcasts/{broadcast_id}/": {"get"},
    "/api/broadcasts/{broadcast_id}/start/": {"post"},
    "/api/broadcasts/{broadcast_id}/end/": {"post"},
    "/api/broadcasts/{broadcast_id}/stream-key/": {"post"},
    "/api/broadcasts/{broadcast_id}/timeline/": {"get"},
    "/api/broadcasts/{broadcast_id}/latency/": {"get", "post"},
    "/api/broadcasts/{broadcast_id}/comments/": {"get", "post"},
    "/api/broadcasts/{broadcast_id}/comments/{comment_id}/": {"delete"},
    "/api/broadcasts/{broadcast_id}/reactions/": {"get", "post"},
    "/api/broadcasts/{broadcast_id}/viewers/": {"get"},
    "/api/presence/": {"get"},
}
MODERATION_PATHS = {
    "/api/broadcasts/{broadcast_id}/moderation/": {"get", "put"},
    "/api/broadcasts/{broadcast_id}/moderation/log/": {"get"},
    "/api/broadcasts/{broadcast_id}/bans/": {"get", "post"},
    "/api/broadcasts/{broadcast_id}/bans/{user_id}/": {"delete"},
    "/api/broadcasts/{broadcast_id}/pinned/": {"put", "delete"},
    "/api/broadcasts/{broadcast_id}/moderators/": {"get", "post"},
    "/api/broadcasts/{broadcast_id}/moderators/{user_id}/": {"delete"},
    "/api/broadcasts/{broadcast_id}/users/{user_id}/": {"get"},
    "/api/broadcasts/{broadcast_id}/comments/{comment_id}/report/": {"post"},
    "/api/broadcasts/{broadcast_id}/review/": {"get"},
    "/api/broadcasts/{broadcast_id}/review/{comment_id}/approve/": {"post"},
    "/api/broadcasts/{broadcast_id}/watching/": {"get"},
    "/api/moderators/": {"get", "post"},
    "/api/moderators/{user_id}/": {"delete"},
}


def test_the_schema_is_valid_openapi_3_covering_the_contract(anonymous: APIClient, db) -> None:
    response = anonymous.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    paths = {path: set(ops) for path, ops in schema["paths"].items()}
    assert paths == CONTRACT_PATHS | MODERATION_PATHS


def test_the_schema_documents_the_detail_and_error_shapes(anonymous: APIClient, db) -> None:
    schema = anonymous.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    broadcast = schema["components"]["schemas"]["Broadcast"]
    start = schema["paths"]["/api/broadcasts/{broadcast_id}/start/"]["post"]

    assert set(broadcast["properties"]) == {
        "id", "title", "description", "status", "broadcaster", "stream_url", "scheduled_for",
        "started_at", "ended_at", "reactions", "viewers", "comments_count", "pinned_comment",
        "ingest_state", "playback_url", "thumbnail_url", "chat_rules",
    }  # fmt: skip
    detail = schema["components"]["schemas"]["BroadcastDetail"]
    assert set(detail["properties"]) - set(broadcast["properties"]) == {"ingest_url", "stream_key"}
    assert set(start["responses"]) == {"200", "401", "403", "404", "409"}


def test_the_docs_page_uses_only_local_static_files(anonymous: APIClient, db) -> None:
    response = anonymous.get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not a static file"
    assert 'url: "/api/schema/"' in html
    assert not re.search(r"https?://", html), "the page must not load anything remote"
