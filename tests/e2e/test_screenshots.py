"""Screenshots of the watch page and the studio, at desktop and phone sizes, for the docs.

Written to docs/screenshots/ by ``make screenshots`` (to a temporary folder otherwise: the
``screenshots`` fixture), so they show the pages as they are.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from livevideo import services
from tests.factories import BroadcasterFactory, UserFactory

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
CHAT = [
    ("ann", "Ann Archer", "Hello from Lisbon! 👋"),
    ("bob", "Bob Brown", "Is the recording going to be available afterwards?"),
    ("cho", "Cho Chen", "The new dashboard looks great."),
    ("dev", "Dev Patel", "Can you show the mobile layout too?"),
    ("ann", "Ann Archer", "+1 for the mobile layout"),
    ("eve", "Eve Evans", "Loving the live reactions 🎉"),
]
# A short viewers/reactions history for the studio chart (what a few minutes would give).
CHART = [(3, 2), (5, 4), (8, 9), (12, 7), (15, 14), (14, 22), (18, 12), (21, 17), (24, 30)]


@pytest.fixture
def scene():
    """A live broadcast with a conversation, reactions and a pinned comment."""
    caster = BroadcasterFactory(username="caster", first_name="Cass Caster")
    broadcast = services.broadcast_create(
        broadcaster=caster,
        title="Launch day: a tour of the new release",
        description="A walkthrough of what is new, then your questions live.",
    )
    services.broadcast_start(broadcast=broadcast, actor=caster)
    users = {u: UserFactory(username=u, first_name=name) for u, name, _ in CHAT}
    comments = [
        services.comment_create(broadcast=broadcast, author=users[u], text=text)
        for u, _, text in CHAT
    ]
    services.comment_pin(comment=comments[1], actor=caster)
    taps = [(users["bob"], "like")] * 12 + [(users["cho"], "love")] * 7
    services.reactions_record(broadcast=broadcast, taps=taps + [(users["eve"], "celebrate")] * 4)
    services.user_timeout(broadcast=broadcast, actor=caster, user=users["dev"], seconds=600)
    return broadcast, caster, users["ann"]


def _shoot(page: Page, folder: Path, name: str) -> None:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=name.endswith("phone"))
    assert path.stat().st_size > 10_000


@pytest.mark.parametrize("size", SIZES)
def test_watch_page(open_as, scene, screenshots, size):
    broadcast, _, ann = scene
    page = open_as(ann, f"/broadcasts/{broadcast.pk}/", viewport=SIZES[size])
    expect(page.locator(".comment-text")).to_have_count(len(CHAT))
    expect(page.locator("[data-pinned]")).to_be_visible()
    page.get_by_label("Add a comment").fill("What a great launch!")
    for kind in ("love", "like", "celebrate", "love", "like"):
        page.locator(f'[data-reaction="{kind}"]').click()
    page.wait_for_timeout(600)  # the sprites are mid-flight
    _shoot(page, screenshots, f"watch-{size}")


@pytest.mark.parametrize("size", SIZES)
def test_studio_page(open_as, scene, screenshots, size):
    broadcast, caster, _ = scene
    page = open_as(
        caster,
        f"/studio/{broadcast.pk}/",
        init_script="window.LiveVideoStudioOptions = {sampleMs: 100};",
        viewport=SIZES[size],
    )
    expect(page.locator("[data-connection]")).not_to_have_text("Connecting…")
    page.wait_for_timeout(1_500)  # the server's own viewers update lands first
    total = 23
    for viewers, reactions in CHART:
        total += reactions
        events = [
            {"type": "viewers", "id": None, "ts": 0, "data": {"count": viewers}},
            {"type": "reactions", "id": None, "ts": 0, "data": {"totals": {}, "total": total}},
        ]
        page.evaluate("(events) => window.LiveVideoStudio.applyEvents(events)", events)
        page.wait_for_timeout(110)
    # 24 connections, one of them the studio's own: the broadcaster is not a viewer.
    expect(page.locator("[data-stat=viewers]")).to_have_text("23")
    _shoot(page, screenshots, f"studio-{size}")


@pytest.mark.parametrize("size", SIZES)
def test_moderator_watch_page(open_as, scene, screenshots, size):
    broadcast, caster, _ = scene
    mod = UserFactory(username="molly", first_name="Molly Mod")
    services.moderator_appoint(broadcast=broadcast, actor=caster, user=mod)
    page = open_as(mod, f"/broadcasts/{broadcast.pk}/", viewport=SIZES[size])
    expect(page.locator("[data-watch-mod-tools]").first).to_be_visible()
    page.locator(".comment", has_text="+1 for the mobile layout").locator(".comment-author").click()
    expect(page.locator("dialog.user-card [data-card-comments] li")).to_have_count(2)
    page.screenshot(path=str(screenshots / f"moderate-{size}.png"))
    assert (screenshots / f"moderate-{size}.png").stat().st_size > 10_000


def test_timed_out_viewer(open_as, scene, screenshots):
    broadcast, _, _ = scene
    dev = UserFactory(username="dev")
    page = open_as(dev, f"/broadcasts/{broadcast.pk}/", viewport=SIZES["phone"])
    expect(page.locator("[data-composer-note]")).to_have_text(re.compile("You are timed out"))
    page.locator("[data-composer]").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "timed-out-phone.png"))
    assert (screenshots / "timed-out-phone.png").stat().st_size > 10_000
