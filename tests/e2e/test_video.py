"""The watch page plays live video in Debian's Chromium: hls.js on a live HLS playlist fed by a
synthetic ffmpeg source (the embedded default's path: no media server), served by the app's
DEBUG media route. Also the README's screenshot of moving video with the chat beside it."""

from __future__ import annotations

import os
import tempfile

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from livevideo import services
from livevideo.video import demo
from livevideo.video.config import config
from tests.factories import UserFactory

# The server process reads the settings when it starts: point its media root, and this
# process's, at a scratch folder before it does (this module is imported before any test runs).
os.environ["LIVE_VIDEO_ROOT"] = tempfile.mkdtemp(prefix="e2e-media-")
os.environ["LIVE_VIDEO_SERVE_FILES"] = "1"
settings.LIVE_VIDEO = {
    **settings.LIVE_VIDEO,
    "ROOT": os.environ["LIVE_VIDEO_ROOT"],
    "SERVE_FILES": True,
}
config.cache_clear()
SHOTS = settings.BASE_DIR / "docs" / "screenshots"


@pytest.fixture
def fed_broadcast():
    caster = UserFactory(username="caster", first_name="Cass Caster")
    broadcast = services.broadcast_create(
        broadcaster=caster, title="Live video: the new player", description="hls.js in action."
    )
    source = demo.start_source(broadcast)
    yield broadcast
    source.terminate()
    source.wait(timeout=10)


def _current_time(page: Page) -> float:
    return page.evaluate("document.querySelector('[data-player-video]').currentTime")


def test_the_watch_page_plays_the_live_stream(open_as, fed_broadcast):
    page = open_as(
        None, f"/broadcasts/{fed_broadcast.pk}/", viewport={"width": 1280, "height": 800}
    )
    player = page.locator("[data-player]")

    expect(player).to_have_attribute("data-player-state", "live", timeout=30_000)
    before = _current_time(page)
    page.wait_for_timeout(3000)

    assert _current_time(page) > before + 1.5, "the video's currentTime did not advance"
    expect(player).not_to_have_attribute("data-player-state", "failed")
    expect(page.locator("[data-player-overlay]")).to_be_hidden()
    assert page.evaluate("window.LiveVideoPlayer.hls() !== null"), "hls.js was not used"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "watch-video.png"))


def test_a_broadcast_without_video_says_it_is_waiting(open_as, db):
    caster = UserFactory(username="caster2")
    broadcast = services.broadcast_create(broadcaster=caster, title="Soon")
    services.broadcast_start(broadcast=broadcast, actor=caster)

    page = open_as(None, f"/broadcasts/{broadcast.pk}/")

    expect(page.locator("[data-player]")).to_have_attribute("data-player-state", "waiting")
    expect(page.locator("[data-player-overlay]")).to_contain_text("Waiting for the broadcaster")
