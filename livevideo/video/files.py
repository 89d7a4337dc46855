"""The media root over HTTP from this app, at ``/media/``: for the embedded default only.

In production the media server (nginx) or a CDN serves hls/, vod/ and thumbs/ and
``LIVE_VIDEO_PUBLIC_URL`` points there; segments never pass through the Python processes
(docs/operations.md). Unless ``LIVE_VIDEO_SERVE_FILES`` is on (it is when DEBUG is), this
answers 404.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import re_path
from django.views.static import serve

from livevideo.video.config import config


def media_file(request: HttpRequest, path: str) -> HttpResponse:
    if not config().serve_files:
        raise Http404("The media server or a CDN serves video files in this deployment.")
    response = serve(request, path, document_root=str(config().root))
    if path.endswith(".m3u8"):
        response["Cache-Control"] = "no-cache"  # a live playlist changes every second
    return response


urlpatterns = [re_path(r"^(?P<path>(?:hls|vod|thumbs)/.+)$", media_file, name="media-file")]
