"""Phone layout (390x844): the comment box is reachable with the video in view, and the studio
stays compact with touch-sized moderation controls."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from livevideo import services
from tests.factories import BroadcasterFactory, CommentFactory, UserFactory

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def scene():
    caster = BroadcasterFactory(username="caster", first_name="Cass Caster")
    broadcast = services.broadcast_create(
        broadcaster=caster, title="Launch day", description="A long description. " * 20
    )
    services.broadcast_start(broadcast=broadcast, actor=caster)
    ann = UserFactory(username="ann", first_name="Ann")
    CommentFactory.create_batch(30, broadcast=broadcast, author=ann)
    return broadcast, caster, ann


def _box(page, selector):
    return page.locator(selector).bounding_box()


def test_the_comment_box_is_reachable_with_the_video_in_view(open_as, scene):
    broadcast, _, ann = scene
    page = open_as(ann, f"/broadcasts/{broadcast.pk}/", viewport=PHONE)
    expect(page.get_by_label("Add a comment")).to_be_visible()
    box = page.get_by_label("Add a comment")
    box.scroll_into_view_if_needed()
    box.fill("typing on a phone")
    player = page.locator(".player").bounding_box()
    composer = box.bounding_box()
    # Both in view at once: the video (pinned to the top) above the box being typed in.
    assert player["y"] >= -1
    assert player["y"] + player["height"] <= composer["y"]
    assert composer["y"] + composer["height"] <= PHONE["height"] + 2
    scroll = page.evaluate("window.scrollY")
    top = page.evaluate("document.querySelector('[data-composer]').getBoundingClientRect().top")
    assert scroll + top < 1000, f"the comment box starts {scroll + top:.0f} px down"


def test_the_studio_is_compact_with_touch_sized_controls(open_as, scene):
    broadcast, caster, _ = scene
    page = open_as(caster, f"/studio/{broadcast.pk}/", viewport=PHONE)
    expect(page.locator("[data-connection]")).not_to_have_text("Connecting…")
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 3600, f"the studio is {height} px tall"
    pin = page.locator(".studio-comment").first.get_by_role("button", name="Pin")
    assert pin.bounding_box()["height"] >= 40
    header = page.locator(".site-header").bounding_box()
    assert header["height"] < 90, f"the header is {header['height']} px tall"
