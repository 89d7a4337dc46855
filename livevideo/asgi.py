"""ASGI entry point: HTTP (Django, SSE) and WebSocket (Channels) in one application."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livevideo.settings")
from livevideo.handler import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from livevideo.routing import websocket_urlpatterns  # noqa: E402
from realtime.auth import TokenOrSessionAuthMiddleware  # noqa: E402
from realtime.rawsend import RememberSend  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Static files are answered here, before Django's middleware: a sync-only static
        # middleware (WhiteNoise) would make Django run every request, each SSE stream for its
        # whole life included, in a thread of its own. RememberSend lets the SSE stream write
        # its frames straight to uvicorn's socket.
        "http": RememberSend(ASGIStaticFilesHandler(django_asgi_app)),
        "websocket": AllowedHostsOriginValidator(
            TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns))
        ),
    }
)
