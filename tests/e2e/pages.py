"""What the watch page's tests do on a page, as a person would."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from livevideo.models import Broadcast


def watch_path(broadcast: Broadcast) -> str:
    return f"/broadcasts/{broadcast.pk}/"


# After a few seconds without the server, the page's next attempt may be 16 s away (its
# backoff doubles from 0.5 s up to 30 s, static/js/realtime.js): a page that comes back may take
# up to the whole ceiling.
BACKOFF_CEILING_MS = 30_000


def connected(page: Page, *, timeout: float = 10_000) -> Page:
    """``page``, once it says its live updates are on (within ``timeout`` ms)."""
    expect(page.locator("[data-connection]")).to_have_text("Live updates", timeout=timeout)
    return page


def reconnected(page: Page) -> Page:
    """``page``, once it is back after the server was out of reach: its next attempt may be
    as far off as the page's backoff ceiling."""
    return connected(page, timeout=BACKOFF_CEILING_MS + 5_000)


def send_comment(page: Page, text: str) -> None:
    page.get_by_label("Add a comment").fill(text)
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_label("Add a comment")).to_have_value("")


def comment_texts(page: Page) -> Locator:
    return page.locator("[data-comment-list] .comment-text")
