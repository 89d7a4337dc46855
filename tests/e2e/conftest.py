"""Browser tests: Debian's Chromium driven by Playwright against Daphne forked on the test DB.

Run on their own (``make test-e2e``): Playwright keeps an event loop running in the test
thread, which breaks pytest-asyncio tests in the same process. The recipe this follows is
/work/shared/recipes/browser-tests.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from playwright.sync_api import BrowserContext, Page, expect

from livevideo import services
from livevideo.models import Broadcast
from tests.factories import BroadcasterFactory, UserFactory

# Playwright's sync API keeps an asyncio loop running in the test thread, so Django's ORM (in
# test bodies and in pytest-django's flush after each test) would raise SynchronousOnlyOperation.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")  # Debian's apt package
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Remembers every WebSocket a page opens, so a test can drop the connection; while
# ``window.__streamBlocked`` is true, new WebSocket and EventSource connections go to a
# same-origin path with nothing behind it, as if the server were out of reach: they fail at once
# (another origin would be blocked by the page's Content-Security-Policy, which in Chromium
# fails a WebSocket without a close event: a hang, which realtime.js gives up on only after its
# connect timeout). ``window.__streamHangs`` makes them hang that way.
TRACK_SOCKETS = """
window.__sockets = [];
window.__streamBlocked = false;
window.__streamHangs = false;
const unreachable = (url, path) => {
  if (window.__streamHangs) return url.replace(/\\/\\/[^/]+\\//, "//127.0.0.1:9/");
  return window.__streamBlocked ? url.replace(/\\/(ws|sse)\\/broadcasts\\//, path) : url;
};
window.WebSocket = class extends window.WebSocket {
  constructor(url, ...rest) {
    super(unreachable(url, "/ws/nothing-here/"), ...rest);
    window.__sockets.push(this);
  }
};
window.EventSource = class extends window.EventSource {
  constructor(url, ...rest) {
    super(unreachable(url, "/sse/nothing-here/"), ...rest);
  }
};
"""

expect.set_options(timeout=10_000)  # a loaded 2-core CI needs the headroom


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, browser_name):
    """pytest-playwright's launch options, pointed at Debian's Chromium."""
    if browser_name != "chromium":
        pytest.skip("only Debian's chromium is installed on this machine")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": CHROMIUM_ARGS,
        "timeout": 30_000,
    }


@pytest.fixture(scope="session")
def channels_live_server(django_db_setup, django_db_blocker) -> Iterator[str]:
    """Daphne serving the ASGI app (HTTP, WebSocket, SSE, static files) in a forked process on
    the pytest-django test database, as Channels' ChannelsLiveServerTestCase does."""
    from channels.testing.live import make_application, set_database_connection
    from daphne.testing import DaphneProcess
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        assert settings.DATABASES["default"]["TEST"]["NAME"], "the server needs a file database"
    proc = DaphneProcess(
        "127.0.0.1",
        partial(make_application, static_wrapper=ASGIStaticFilesHandler),
        setup=set_database_connection,
    )
    # Fork while the DB blocker is lifted: the child inherits that state.
    with django_db_blocker.unblock():
        proc.start()
    if not proc.ready.wait(timeout=20):
        error = None if proc.errors.empty() else proc.errors.get(timeout=1)[1]
        proc.terminate()
        raise RuntimeError(f"daphne did not start: {error}")
    yield f"http://127.0.0.1:{proc.port.value}"
    proc.terminate()
    proc.join(timeout=10)


@pytest.fixture
def live_url(channels_live_server, transactional_db) -> str:
    """The server's URL; rows the test writes are committed, so the server sees them."""
    return channels_live_server


@pytest.fixture
def fail_on_dialog() -> Iterator[Callable[[Page], Page]]:
    """Make any alert/confirm/prompt on a page fail the test (e.g. injected script)."""
    opened: list[str] = []

    def watch(page: Page) -> Page:
        def on_dialog(dialog) -> None:
            opened.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        return page

    yield watch
    assert not opened, f"a dialog opened: {opened}"


@pytest.fixture
def open_as(new_context, live_url) -> Callable[..., Page]:
    """A page in its own browser context (own cookies), signed in as ``user`` (or anonymous),
    at ``path``. Each simulated person gets a context: background tabs are throttled.
    ``before_goto(page)`` runs before the page loads (say, to listen for its WebSockets)."""

    def open_page(
        user=None,
        path: str = "/",
        init_script: str = "",
        before_goto: Callable[[Page], object] | None = None,
        **context_options,
    ) -> Page:
        context: BrowserContext = new_context(**context_options)
        context.add_init_script(TRACK_SOCKETS + init_script)
        if user is not None:
            context.add_cookies(
                [
                    {
                        "name": settings.SESSION_COOKIE_NAME,
                        "value": _session_for(user),
                        "url": live_url,
                    }
                ]
            )
        page = context.new_page()
        if before_goto is not None:
            before_goto(page)
        page.goto(live_url + path)
        return page

    return open_page


def _session_for(user) -> str:
    """A signed-in session for ``user`` in the shared database; its key is the cookie."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests that take the README's pictures write them: docs/screenshots/ when asked
    (``UPDATE_SCREENSHOTS=1``, ``make screenshots``), else a temporary folder, so that running
    the browser tests leaves the checkout as it was."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        return settings.BASE_DIR / "docs" / "screenshots"
    return tmp_path_factory.mktemp("screenshots")


# The cast of the watch-page and moderation tests.


@pytest.fixture
def caster():
    return BroadcasterFactory(username="caster", first_name="Cass Caster")


@pytest.fixture
def live(caster) -> Broadcast:
    broadcast = services.broadcast_create(broadcaster=caster, title="Launch day")
    return services.broadcast_start(broadcast=broadcast, actor=caster)


@pytest.fixture
def ann():
    return UserFactory(username="ann", first_name="Ann")


@pytest.fixture
def bob():
    return UserFactory(username="bob", first_name="Bob")
