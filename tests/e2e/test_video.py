"""The watch page plays live video in Debian's Chromium: hls.js on a live HLS playlist fed by a
synthetic ffmpeg source, straight (the embedded default's path) or over RTMP through the real
media server (nginx-rtmp), served by the app's media route; the replay with its chat; in-step
mode. Also the README's screenshot of moving video with the chat beside it."""

from __future__ import annotations

import os
import subprocess
import tempfile
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page, expect

from livevideo import services
from livevideo.models import Broadcast, Comment, Reaction
from livevideo.video import demo, ffmpeg
from livevideo.video.config import config
from tests.factories import BroadcasterFactory, UserFactory
from tests.media.servers import SECRET, MediaServer, push, require_nginx

# The server process reads the settings when it starts: point its media root, and this
# process's, at a scratch folder before it does (this module is imported before any test runs).
os.environ["LIVE_VIDEO_ROOT"] = tempfile.mkdtemp(prefix="e2e-media-")
os.environ["LIVE_VIDEO_SERVE_FILES"] = "1"
os.environ["LIVE_VIDEO_HOOK_SECRET"] = SECRET
os.environ["LIVE_VIDEO_RECONNECT_GRACE"] = "4"
settings.LIVE_VIDEO = {
    **settings.LIVE_VIDEO,
    "ROOT": os.environ["LIVE_VIDEO_ROOT"],
    "SERVE_FILES": True,
    "HOOK_SECRET": SECRET,
    "RECONNECT_GRACE": 4,
}
config.cache_clear()


@pytest.fixture
def fed_broadcast():
    caster = BroadcasterFactory(username="caster", first_name="Cass Caster")
    broadcast = services.broadcast_create(
        broadcaster=caster, title="Live video: the new player", description="hls.js in action."
    )
    source = demo.start_source(broadcast)
    yield broadcast
    source.terminate()
    source.wait(timeout=10)


def _current_time(page: Page) -> float:
    return page.evaluate("document.querySelector('[data-player-video]').currentTime")


def test_the_watch_page_plays_the_live_stream(open_as, fed_broadcast, screenshots):
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
    page.screenshot(path=str(screenshots / "watch-video.png"))


def test_a_broadcast_without_video_says_it_is_waiting(open_as, db):
    caster = BroadcasterFactory(username="caster2")
    broadcast = services.broadcast_create(broadcaster=caster, title="Soon")
    services.broadcast_start(broadcast=broadcast, actor=caster)

    page = open_as(None, f"/broadcasts/{broadcast.pk}/")

    expect(page.locator("[data-player]")).to_have_attribute("data-player-state", "waiting")
    expect(page.locator("[data-player-overlay]")).to_contain_text("Waiting for the broadcaster")


@pytest.fixture
def replay(tmp_path):
    """An ended broadcast with a 6 s recording, comments at 1 s and 4 s of it, one removed at
    2 s, and a reaction at 4 s."""
    caster = BroadcasterFactory(username="caster", first_name="Cass Caster")
    viewer = UserFactory(username="ann", first_name="Ann")
    broadcast = services.broadcast_create(broadcaster=caster, title="Recorded")
    services.broadcast_start(broadcast=broadcast, actor=caster)
    flv = tmp_path / "rec.flv"
    subprocess.run(
        [a for a in ffmpeg.synthetic_source_args(["-f", "flv", str(flv)], seconds=6) if a != "-re"],
        check=True,
    )
    ffmpeg.remux_to_vod([flv], config().root / "vod" / broadcast.stream_name / "index.m3u8")
    origin = timezone.now() - timedelta(minutes=5)
    for seconds, text, removed in [(1, "first!", False), (2, "gone", True), (4, "at four", False)]:
        comment = services.comment_create(broadcast=broadcast, author=viewer, text=text)
        Comment.objects.filter(pk=comment.pk).update(
            created_at=origin + timedelta(seconds=seconds), is_removed=removed
        )
    services.reactions_record(broadcast=broadcast, taps=[(viewer, "love")])
    Reaction.objects.filter(broadcast=broadcast).update(created_at=origin + timedelta(seconds=4))
    services.broadcast_end(broadcast=broadcast, actor=caster)
    Broadcast.objects.filter(pk=broadcast.pk).update(
        video_started_at=origin, recording=f"vod/{broadcast.stream_name}/index.m3u8"
    )
    return broadcast


def test_the_replay_plays_with_the_chat_at_its_moments(open_as, replay):
    page = open_as(None, f"/broadcasts/{replay.pk}/")
    chat = page.locator("[data-comment-list]")

    expect(page.locator("[data-player]")).to_have_attribute("data-player-state", "replay")
    expect(page.locator("html")).to_have_attribute("data-chat-replay", "on")
    love = page.locator('[data-reaction="love"] [data-count]')
    expect(chat).to_contain_text("first!", timeout=5000)
    expect(chat).not_to_contain_text("at four")
    expect(love).to_have_text("0")  # the totals of that moment, below the final ones
    expect(chat).to_contain_text("at four", timeout=8000)  # once the video passes 4 s
    expect(chat).not_to_contain_text("gone")
    expect(love).to_have_text("1")

    page.evaluate("document.querySelector('[data-player-video]').currentTime = 0.5")

    expect(chat).not_to_contain_text("first!")
    expect(chat).not_to_contain_text("at four")
    expect(love).to_have_text("0")


def _post_comment(page: Page, broadcast_id: int, text: str) -> None:
    page.evaluate(
        """([id, text]) => fetch(`/api/broadcasts/${id}/comments/`, {
             method: "POST",
             headers: {"Content-Type": "application/json",
                       "X-CSRFToken": document.cookie.match(/csrftoken=([^;]+)/)[1]},
             body: JSON.stringify({text}),
           })""",
        [broadcast_id, text],
    )


def _seconds_until_shown(viewer: Page, writer: Page, broadcast_id: int, text: str) -> float:
    started = viewer.evaluate("Date.now()")
    _post_comment(writer, broadcast_id, text)
    viewer.wait_for_function(
        "(t) => [...document.querySelectorAll('.comment-text')].some(e => e.textContent === t)",
        arg=text,
        timeout=30_000,
    )
    return (viewer.evaluate("Date.now()") - started) / 1000


def test_in_step_mode_holds_a_comment_until_the_picture_reaches_it(open_as, fed_broadcast):
    writer_user = UserFactory(username="writer")
    viewer = open_as(None, f"/broadcasts/{fed_broadcast.pk}/")
    writer = open_as(writer_user, f"/broadcasts/{fed_broadcast.pk}/")
    expect(viewer.locator("[data-player]")).to_have_attribute(
        "data-player-state", "live", timeout=30_000
    )
    expect(viewer.locator("[data-instep]")).to_contain_text("behind live")
    latency = viewer.evaluate("window.LiveVideoInStep.stats().latencyMs") / 1000
    assert latency > 1, f"the picture is only {latency:.1f} s behind: nothing to hold"

    held = _seconds_until_shown(viewer, writer, fed_broadcast.pk, "in step")
    stats = viewer.evaluate("window.LiveVideoInStep.stats()")
    viewer.locator("[data-instep-toggle]").uncheck()
    direct = _seconds_until_shown(viewer, writer, fed_broadcast.pk, "straight away")

    assert stats["held"] >= 1
    assert stats["lastLagMs"] / 1000 > latency - 1.5
    assert held > latency - 1.5, f"shown after {held:.1f} s, the picture is {latency:.1f} s behind"
    assert direct < 1.5, f"with in-step off the comment still took {direct:.1f} s"
    print(f"in-step: latency {latency:.2f} s, comment held {held:.2f} s, off {direct:.2f} s")


@pytest.fixture
def media_server(live_url):
    require_nginx()
    server = MediaServer(config().root, f"{live_url}/media-hooks/")
    yield server
    server.stop()


def test_rtmp_publish_plays_then_reconnecting_then_the_end(open_as, media_server):
    caster = BroadcasterFactory(username="caster")
    broadcast = services.broadcast_create(broadcaster=caster, title="Over RTMP")
    page = open_as(None, f"/broadcasts/{broadcast.pk}/")
    player = page.locator("[data-player]")
    expect(player).to_have_attribute("data-player-state", "scheduled")
    expect(page.locator(".connection")).to_have_attribute("data-state", "live")

    encoder = push(media_server, broadcast.stream_key, seconds=12)

    # Nobody pressed Go live: the publish did, and the page followed by itself.
    expect(player).to_have_attribute("data-player-state", "live", timeout=30_000)
    before = _current_time(page)
    page.wait_for_timeout(2500)
    assert _current_time(page) > before + 1
    encoder.wait(timeout=60)
    expect(player).to_have_attribute("data-player-state", "reconnecting", timeout=15_000)
    expect(page.locator("[data-player-overlay]")).to_contain_text("reconnecting")
    # RECONNECT_GRACE is 4 s here; then the recording becomes the replay.
    expect(page.locator("[data-status-badge]").first).to_have_text("Ended", timeout=20_000)
    expect(player).to_have_attribute("data-player-state", "replay", timeout=30_000)
    expect(page.locator("html")).to_have_attribute("data-chat-replay", "on")
