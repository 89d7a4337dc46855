"""Top-level URLs: pages, accounts, admin, REST API, the SSE stream."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("livevideo.api.urls")),
    path("", include("livevideo.pages_urls")),
]
