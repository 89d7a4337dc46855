"""ASGI entry point: HTTP (the SSE stream, then Django) and WebSocket (Channels) in one
application."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livevideo.settings")
from livevideo.handler import get_asgi_application

django_asgi_app = get_asgi_application()

from django.urls import path, re_path  # noqa: E402

from livevideo.api.writepath import RestWrites  # noqa: E402
from livevideo.routing import websocket_urlpatterns  # noqa: E402
from livevideo.staticfiles import StaticFiles  # noqa: E402
from livevideo.stream import BroadcastEventStream  # noqa: E402
from realtime import gcpolicy, gilpolicy  # noqa: E402
from realtime.auth import TokenOrSessionAuthMiddleware  # noqa: E402
from realtime.lifespan import lifespan  # noqa: E402
from realtime.origin import SameOriginValidator  # noqa: E402
from realtime.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": URLRouter(
            [
                # The SSE stream is a plain ASGI endpoint, like the WebSocket consumer: through
                # Django's handler each connect and close cost several hand-overs to a thread.
                path("sse/broadcasts/<int:broadcast_id>/", BroadcastEventStream.as_asgi()),
                # Static files are answered here, before Django's middleware: a sync-only
                # static middleware (WhiteNoise) would make Django run every request in a
                # thread of its own.
                # The REST writes (comments, reactions) too: stored in batches
                # (livevideo.api.writepath); the rest of the API goes on to Django.
                re_path(r"", StaticFiles(RestWrites(django_asgi_app))),
            ]
        ),
        "websocket": SameOriginValidator(
            TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns))
        ),
        "lifespan": lifespan,  # readies the history store at startup
    }
)

# Everything is loaded: the collector need not walk it again (and ten thousand connections
# would make it walk millions of objects, on the event loop).
gcpolicy.tune()
# The database thread gets the GIL back sooner after each statement (realtime/gilpolicy.py).
gilpolicy.tune()
