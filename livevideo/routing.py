"""WebSocket routes."""

from django.urls import path

from livevideo.consumers import BroadcastConsumer

websocket_urlpatterns = [
    path("ws/broadcasts/<int:broadcast_id>/", BroadcastConsumer.as_asgi()),
]
