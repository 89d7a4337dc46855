from django.apps import AppConfig


class LivevideoConfig(AppConfig):
    name = "livevideo"
    verbose_name = "Live video"
