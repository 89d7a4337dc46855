"""The media server's notifications (nginx-rtmp ``on_publish``, ``on_update``,
``on_publish_done``, ``on_record_done``): form POSTs with the stream's ``name``; and the
periodic sweep ``manage.py mediaserver`` asks for.

Only the media server may call them: it shows the shared secret (``?secret=``, put in its URLs
by ``manage.py mediaserver``). nginx-rtmp lets a publish in on 2xx and refuses it on 4xx; on
a 3xx it takes ``Location`` as the stream's new name, which is how the stream is published
under its public name (``broadcast-<id>``) and the secret key appears in no viewer's URL.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from livevideo.errors import InvalidInput, ServiceError, WrongStatus
from livevideo.video import services
from livevideo.video.config import config

log = logging.getLogger(__name__)
Hook = Callable[[HttpRequest], HttpResponse]


def _refusal(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def media_server_only(view: Callable[[HttpRequest, str], HttpResponse]) -> Hook:
    """Checks the secret and the stream name's form; turns refusals into 4xx with a reason."""

    @csrf_exempt
    @require_POST
    def hook(request: HttpRequest) -> HttpResponse:
        secret = request.GET.get("secret", "")
        if not hmac.compare_digest(secret.encode(), config().hook_secret.encode()):
            return _refusal(403, "Only the media server may call this (wrong or missing secret).")
        try:
            return view(request, request.POST.get("name", ""))
        except InvalidInput as exc:
            return _refusal(400, exc.message)
        except WrongStatus as exc:
            return _refusal(409, exc.message)
        except services.UnknownStream as exc:
            return _refusal(404, exc.message)
        except ServiceError as exc:
            return _refusal(403, exc.message)

    return hook


@media_server_only
def on_publish(request: HttpRequest, name: str) -> HttpResponse:
    broadcast = services.ingest_publish(stream_key=name)
    log.info("broadcast %s: encoder connected from %s", broadcast.pk, request.POST.get("addr"))
    response = HttpResponse(status=302)
    response["Location"] = broadcast.stream_name
    return response


@media_server_only
def on_update(request: HttpRequest, name: str) -> HttpResponse:
    services.ingest_check(name=name)
    return HttpResponse(status=204)


@media_server_only
def on_publish_done(request: HttpRequest, name: str) -> HttpResponse:
    services.ingest_publish_done(name=name)
    return HttpResponse(status=204)


@media_server_only
def on_record_done(request: HttpRequest, name: str) -> HttpResponse:
    services.recording_done(name=name)
    return HttpResponse(status=204)


@media_server_only
def on_sweep(request: HttpRequest, name: str) -> HttpResponse:
    """Called by ``manage.py mediaserver`` every few seconds (or by cron): what no hook said.
    Run here, in an app process, so its events reach viewers with or without Redis."""
    changed = services.ingest_sweep()
    stills = services.live_stills_refresh()
    return JsonResponse({"changed": changed, "stills": stills})


urlpatterns = [
    path("publish/", on_publish, name="media-publish"),
    path("update/", on_update, name="media-update"),
    path("publish-done/", on_publish_done, name="media-publish-done"),
    path("record-done/", on_record_done, name="media-record-done"),
    path("sweep/", on_sweep, name="media-sweep"),
]
