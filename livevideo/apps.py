from django.apps import AppConfig
from django.urls import register_converter


class DaphneRunserverConfig(AppConfig):
    """Daphne's app, for its ``runserver`` command (the development server, serving the ASGI
    application) and nothing else. Daphne's own config imports its server at startup (Twisted,
    Autobahn, OpenSSL: a fifth of an idle server process's memory, docs/performance.md) in
    every process that loads the apps, a uvicorn server process too; its ``runserver``
    imports the server itself when it runs."""

    name = "daphne"
    verbose_name = "Daphne"


class LivevideoConfig(AppConfig):
    default = True  # the app's config (this module has another, for Daphne's app)
    name = "livevideo"
    verbose_name = "Live video"

    def ready(self) -> None:
        from livevideo import events
        from livevideo.converters import IdConverter

        # ``<id:...>`` in every URL and WebSocket route (registered before any URLconf loads).
        register_converter(IdConverter, "id")
        # The real-time stream hears what the services announce, as any other receiver would.
        events.connect()
