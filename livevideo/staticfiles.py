"""Static files, answered by the ASGI application itself ahead of Django (ServeStatic).

One process is a whole site and ``collectstatic`` is never a required step: the files are
found where Django's staticfiles finders find them (``static/`` and each app's), and only
those: a URL that names no such file (``/static/../manage.py``) goes on to Django, which
answers 404. Caching and the comparison with Django's development handler:
docs/operations.md, "Static files".
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.staticfiles import finders
from servestatic import ServeStaticASGI


class StaticFiles(ServeStaticASGI):
    """``application`` with ``STATIC_URL`` answered from the staticfiles finders' folders."""

    def __init__(self, application: Any) -> None:
        super().__init__(
            application,
            autorefresh=settings.DEBUG,  # files edited while developing are served at once
            max_age=settings.STATIC_MAX_AGE,
            allow_all_origins=False,  # no other site needs our files
        )
        # Reversed, so that where two folders have the same name the first finder's wins,
        # as with Django's ``findstatic``.
        for prefix, location in reversed(list(_static_folders())):
            self.add_files(location, prefix=prefix)


def _static_folders() -> list[tuple[str, str]]:
    static_url = "/" + settings.STATIC_URL.strip("/") + "/"
    folders = []
    for finder in finders.get_finders():
        for storage in getattr(finder, "storages", {}).values():
            prefix = (getattr(storage, "prefix", None) or "").strip("/")
            folders.append((static_url + (prefix + "/" if prefix else ""), storage.location))
    return folders
