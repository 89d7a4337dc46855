"""What the watch page's tests do on a page, as a person would."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from livevideo.models import Broadcast


def watch_path(broadcast: Broadcast) -> str:
    return f"/broadcasts/{broadcast.pk}/"


def connected(page: Page) -> Page:
    """``page``, once it says its live updates are on."""
    expect(page.locator("[data-connection]")).to_have_text("Live updates")
    return page


def send_comment(page: Page, text: str) -> None:
    page.get_by_label("Add a comment").fill(text)
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_label("Add a comment")).to_have_value("")


def comment_texts(page: Page) -> Locator:
    return page.locator("[data-comment-list] .comment-text")
