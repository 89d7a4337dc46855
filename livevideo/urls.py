"""Top-level URLs: pages, accounts, admin, REST API. (The SSE stream is routed ahead of Django,
in ``livevideo.asgi``.)"""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from livevideo import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    # Browsers ask for /favicon.ico whatever the page says; the icon is a static file.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("api/", include("livevideo.api.urls")),
    path("media-hooks/", include("livevideo.video.hooks")),
    path("media/", include("livevideo.video.files")),
    path("", include("livevideo.pages_urls")),
]
