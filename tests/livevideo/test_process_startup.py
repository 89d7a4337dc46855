"""What a server process loads: the ASGI application without the development server's
Twisted, while ``manage.py runserver`` is still Daphne's."""

from __future__ import annotations

import os
import subprocess
import sys

from django.apps import apps
from django.core.management import get_commands, load_command_class

from livevideo.apps import LivevideoConfig
from tests.servers import ROOT


def test_loading_the_asgi_application_does_not_import_daphnes_server():
    code = (
        "import sys, livevideo.asgi; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'twisted', 'autobahn', 'OpenSSL'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "livevideo.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_runserver_is_daphnes_asgi_development_server():
    app = get_commands()["runserver"]
    command = load_command_class(app, "runserver")
    assert app == "daphne"
    assert type(command).__module__ == "daphne.management.commands.runserver"


def test_the_product_app_keeps_its_own_config():
    # livevideo.apps holds Daphne's config too: the app's own must still be the one used (its
    # ready() connects the stream's receivers and registers the id converter).
    assert isinstance(apps.get_app_config("livevideo"), LivevideoConfig)
