"""WebSocket routes."""

from django.urls import path, re_path

from livevideo.consumers import BroadcastConsumer


async def no_such_stream(scope, receive, send) -> None:
    """Refuse the handshake (the server answers 403): without a route, Channels' router raises,
    and the client would get a 500 for a mistyped address."""
    await receive()  # websocket.connect
    await send({"type": "websocket.close"})


websocket_urlpatterns = [
    path("ws/broadcasts/<int:broadcast_id>/", BroadcastConsumer.as_asgi()),
    re_path(r"", no_such_stream),
]
