from django.apps import AppConfig
from django.urls import register_converter


class LivevideoConfig(AppConfig):
    name = "livevideo"
    verbose_name = "Live video"

    def ready(self) -> None:
        from livevideo import events
        from livevideo.converters import IdConverter

        # ``<id:...>`` in every URL and WebSocket route (registered before any URLconf loads).
        register_converter(IdConverter, "id")
        # The real-time stream hears what the services announce, as any other receiver would.
        events.connect()
