"""Top-level URLs: pages, accounts, admin, REST API, the SSE stream."""

from django.contrib import admin
from django.urls import include, path

from livevideo import health
from livevideo.stream import BroadcastEventStream

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", include("livevideo.api.urls")),
    path("sse/broadcasts/<int:broadcast_id>/", BroadcastEventStream.as_view(), name="sse"),
    path("", include("livevideo.pages_urls")),
]
