"""Moderation as people use it: each control clicked as a user would, and what the AFFECTED
viewer's page then shows, for each role (broadcaster, moderator, viewer, banned viewer,
anonymous), at desktop and phone width."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from livevideo import services
from livevideo.models import ModerationAction
from tests.e2e.pages import comment_texts, connected, reconnected, send_comment, watch_path
from tests.factories import UserFactory

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("size", SIZES)
def test_studio_time_out_reaches_the_viewer_at_once(open_as, live, caster, ann, size):
    viewer = connected(open_as(ann, watch_path(live), viewport=SIZES[size]))
    send_comment(viewer, "Too loud")
    studio = connected(open_as(caster, f"/studio/{live.pk}/", viewport=SIZES[size]))

    row = studio.locator(".studio-comment", has_text="Too loud")
    row.get_by_role("button", name="Time out for 1 minute").click()

    expect(studio.locator("[data-toast]")).to_have_text("Ann is timed out for 1 min.")
    note = viewer.locator("[data-composer-note]")
    expect(note).to_have_text(re.compile(r"You are timed out until \d\d:\d\d \(\d+ s left\)\."))
    expect(viewer.get_by_label("Add a comment")).to_be_disabled()
    expect(viewer.get_by_role("button", name=re.compile(r"^Like"))).to_be_enabled()
    viewer.get_by_role("button", name=re.compile(r"^Like")).click()
    expect(viewer.locator("[data-reaction-error]")).to_have_text(re.compile("timed out"))
    expect(viewer.locator(".float-sprite")).to_have_count(0)  # a refused tap does not float

    viewer.reload()  # and the page says so up front
    expect(note).to_have_text(re.compile(r"You are timed out until"))
    expect(viewer.get_by_label("Add a comment")).to_be_disabled()


def test_ban_and_remove_comments_from_the_studio(open_as, live, caster, ann, bob):
    a = connected(open_as(ann, watch_path(live)))
    b = connected(open_as(bob, watch_path(live)))
    send_comment(a, "Spam one")
    send_comment(a, "Spam two")
    send_comment(b, "A kind word")
    expect(comment_texts(b)).to_have_text(["Spam one", "Spam two", "A kind word"])

    studio = connected(open_as(caster, f"/studio/{live.pk}/"))
    studio.on("dialog", lambda dialog: dialog.accept())  # "Ban this person…?"
    row = studio.locator(".studio-comment", has_text="Spam one")
    row.get_by_role("button", name="Ban & remove comments").click()

    expect(studio.locator("[data-toast]")).to_have_text(
        "Ann is banned from this broadcast and their comments removed."
    )
    for page in (a, b):
        expect(comment_texts(page)).to_have_text(["A kind word"])
    expect(a.locator("[data-composer-note]")).to_have_text(
        "You are banned from this broadcast's chat."
    )
    expect(a.get_by_label("Add a comment")).to_be_disabled()
    actions = set(ModerationAction.objects.values_list("action", flat=True))
    assert actions == {"ban", "remove_comment"}
    expect(studio.locator("[data-section=bans]")).to_contain_text("Ann")

    studio.locator("[data-section=bans]").get_by_role("button", name="Lift").click()
    expect(a.locator("[data-composer-note]")).to_be_hidden()
    expect(a.get_by_label("Add a comment")).to_be_enabled()


def test_chat_rules_are_announced_before_typing(open_as, live, caster, ann):
    viewer = connected(open_as(ann, watch_path(live)))
    rules = viewer.locator("[data-chat-rules]")
    expect(rules).to_have_text("No links.")

    studio = connected(open_as(caster, f"/studio/{live.pk}/"))
    studio.get_by_label("Slow mode").fill("30")
    studio.get_by_label("Blocked words").fill("spoiler")
    studio.get_by_role("button", name="Save settings").click()
    expect(studio.locator("[data-toast]")).to_have_text("Moderation settings saved.")

    expect(rules).to_have_text(
        "Slow mode: one comment every 30 s · no links · some words are blocked."
    )
    send_comment(viewer, "first")
    error = viewer.locator("[data-composer-error]")
    expect(error).to_have_text(re.compile(r"^Slow mode is on\. You can send again in \d+ s\.$"))
    viewer.reload()
    expect(rules).to_have_text(
        "Slow mode: one comment every 30 s · no links · some words are blocked."
    )


def test_ended_and_upcoming_pages_do_not_claim_viewers(open_as, caster, ann):
    upcoming = services.broadcast_create(broadcaster=caster, title="Soon")
    page = open_as(ann, watch_path(upcoming))
    expect(page.locator("[data-viewers]")).to_be_hidden()
    ended = services.broadcast_end(
        broadcast=services.broadcast_start(
            broadcast=services.broadcast_create(broadcaster=caster, title="Done"), actor=caster
        ),
        actor=caster,
    )
    page.goto(page.url.replace(watch_path(upcoming), watch_path(ended)))
    expect(page.locator("[data-viewers]")).to_be_hidden()
    expect(page.locator("[data-connection]")).to_be_hidden()


def test_counts_grey_while_reconnecting(open_as, live, ann):
    page = connected(open_as(ann, watch_path(live)))
    page.evaluate("window.__streamBlocked = true; window.__sockets.forEach((s) => s.close())")
    expect(page.locator("[data-watch]")).to_have_class(re.compile("is-stale"))
    page.evaluate("window.__streamBlocked = false")
    reconnected(page)
    expect(page.locator("[data-watch]")).not_to_have_class(re.compile("is-stale"))


@pytest.fixture
def mod(live, caster):
    user = UserFactory(username="molly", first_name="Molly")
    services.moderator_appoint(broadcast=live, actor=caster, user=user)
    return user


@pytest.mark.parametrize("size", SIZES)
def test_a_moderator_moderates_from_the_watch_page(open_as, live, mod, ann, bob, size):
    a = connected(open_as(ann, watch_path(live), viewport=SIZES[size]))
    b = connected(open_as(bob, watch_path(live), viewport=SIZES[size]))
    send_comment(a, "Buy cheap followers")
    send_comment(a, "Hello all")
    expect(comment_texts(b)).to_have_text(["Buy cheap followers", "Hello all"])
    # A viewer may only report.
    expect(b.locator("[data-watch-mod-tools] [data-mod=pin]")).to_have_count(0)
    expect(b.locator("[data-watch-mod-tools] [data-mod=report]")).to_have_count(2)

    m = connected(open_as(mod, watch_path(live), viewport=SIZES[size]))
    m.on("dialog", lambda dialog: dialog.accept())  # "Remove this comment for everyone?"
    row = m.locator(".comment", has_text="Buy cheap followers")
    row.get_by_role("button", name="Remove").click()
    expect(m.locator("[data-mod-toast]")).to_have_text("Comment removed.")
    for page in (a, b, m):
        expect(comment_texts(page)).to_have_text(["Hello all"])

    m.locator(".comment", has_text="Hello all").get_by_role("button", name="Pin").click()
    expect(b.locator("[data-pinned-text]")).to_have_text("Hello all")

    m.locator(".comment", has_text="Hello all").locator(".comment-author").click()
    card = m.locator("dialog.user-card")
    expect(card.locator("[data-card-name]")).to_have_text("Ann (@ann)")
    expect(card.locator("[data-card-comments] li")).to_have_count(2)  # the removed one too
    card.get_by_role("button", name="Time out 10 min").click()
    expect(card.locator("[data-card-state]")).to_have_text(re.compile("Timed out until"))
    expect(a.locator("[data-composer-note]")).to_have_text(re.compile("You are timed out"))
    expect(a.get_by_label("Add a comment")).to_be_disabled()
    assert set(ModerationAction.objects.filter(actor=mod).values_list("action", flat=True)) == {
        "remove_comment",
        "pin_comment",
        "timeout",
    }


def test_a_moderator_has_no_tools_on_another_broadcast(open_as, caster, mod, ann):
    other = services.broadcast_start(
        broadcast=services.broadcast_create(broadcaster=caster, title="Other"), actor=caster
    )
    services.comment_create(broadcast=other, author=ann, text="Elsewhere")
    page = connected(open_as(mod, watch_path(other)))
    expect(comment_texts(page)).to_have_text(["Elsewhere"])
    expect(page.locator("[data-mod=report]")).to_have_count(1)
    expect(page.locator("[data-mod=pin], [data-mod=remove]")).to_have_count(0)
    expect(page.locator("[data-review]")).to_be_hidden()


def test_anonymous_and_banned_viewers_see_no_tools(open_as, live, caster, ann, bob):
    services.comment_create(broadcast=live, author=bob, text="Hi")
    services.user_ban(broadcast=live, actor=caster, user=ann)
    for user in (None, ann):
        page = connected(open_as(user, watch_path(live)))
        expect(comment_texts(page)).to_have_text(["Hi"])
        expect(page.locator("[data-mod=pin], [data-mod=remove]")).to_have_count(0)
    expect(page.locator("[data-composer-note]")).to_have_text(
        "You are banned from this broadcast's chat."
    )


def test_the_studio_user_card_bans_and_the_viewer_sees_it(open_as, live, caster, ann):
    viewer = connected(open_as(ann, watch_path(live)))
    send_comment(viewer, "Hello studio")
    studio = connected(open_as(caster, f"/studio/{live.pk}/"))
    studio.on("dialog", lambda dialog: dialog.accept())
    studio.locator(".studio-comment", has_text="Hello studio").locator(".comment-author").click()
    card = studio.locator("dialog.user-card")
    card.get_by_role("button", name="Ban & remove comments").click()
    expect(card.locator("[data-card-state]")).to_have_text("Banned from this broadcast")
    expect(comment_texts(viewer)).to_have_count(0)
    expect(viewer.locator("[data-composer-note]")).to_have_text(
        "You are banned from this broadcast's chat."
    )


def test_a_held_comment_waits_for_approval_then_everyone_sees_it(open_as, live, caster, ann, bob):
    services.moderation_settings_update(
        broadcast=live,
        actor=caster,
        slow_mode_seconds=0,
        blocked_words="",
        allow_links=False,
        hold_words="giveaway",
    )
    a = connected(open_as(ann, watch_path(live)))
    b = connected(open_as(bob, watch_path(live)))
    studio = connected(open_as(caster, f"/studio/{live.pk}/"))
    send_comment(a, "Join my giveaway")
    expect(a.locator("[data-composer-error]")).to_have_text(
        "Your comment is held for a moderator's review."
    )
    queue = studio.locator("[data-review]")
    expect(queue.locator(".review-item")).to_have_text([re.compile("Join my giveaway \\(held\\)")])
    expect(comment_texts(b)).to_have_count(0)

    queue.get_by_role("button", name="Approve").click()
    expect(comment_texts(b)).to_have_text(["Join my giveaway"])
    expect(queue.locator(".review-item")).to_have_count(0)


def test_a_report_reaches_the_moderators_queue_and_remove_clears_it(open_as, live, mod, ann, bob):
    services.comment_create(broadcast=live, author=ann, text="Nasty remark")
    b = connected(open_as(bob, watch_path(live)))
    b.on("dialog", lambda dialog: dialog.accept())  # "Report this comment…?"
    m = connected(open_as(mod, watch_path(live)))
    m.on("dialog", lambda dialog: dialog.accept())
    b.locator(".comment", has_text="Nasty remark").get_by_role("button", name="Report").click()
    expect(b.locator("[data-mod-toast]")).to_have_text("Thanks: the moderators will look at it.")

    item = m.locator("[data-review] .review-item")
    expect(item).to_have_text([re.compile(r"Nasty remark \(reported by 1\)")])
    item.get_by_role("button", name="Remove").click()
    expect(item).to_have_count(0)
    expect(comment_texts(b)).to_have_count(0)


def test_the_studio_lists_silent_viewers_who_came_before_it_opened(open_as, live, caster, ann):
    connected(open_as(ann, watch_path(live)))  # watches without a word
    studio = connected(open_as(caster, f"/studio/{live.pk}/"))
    section = studio.locator("[data-watching]")
    expect(section.locator("[data-watching-list] .comment-author")).to_have_text(["Ann"])


def test_the_studio_lists_who_is_watching_and_opens_their_card(open_as, live, caster, ann, bob):
    studio = connected(open_as(caster, f"/studio/{live.pk}/"))
    connected(open_as(ann, watch_path(live)))
    connected(open_as(bob, watch_path(live)))
    section = studio.locator("[data-watching]")
    expect(section.locator("[data-watching-list] .comment-author")).to_have_text(["Ann", "Bob"])
    section.get_by_placeholder("Search by name").fill("bo")
    expect(section.locator("[data-watching-list] .comment-author")).to_have_text(["Bob"])
    section.locator(".comment-author", has_text="Bob").click()
    expect(studio.locator("dialog.user-card [data-card-name]")).to_have_text("Bob (@bob)")


def test_a_moderators_clicks_go_over_the_websocket_while_it_is_open(open_as, live, mod, ann, bob):
    a = connected(open_as(ann, watch_path(live)))
    send_comment(a, "Off topic")
    send_comment(a, "On topic")
    b = connected(open_as(bob, watch_path(live)))
    sent, writes = [], []

    def listen(page: Page) -> None:
        page.on("websocket", lambda ws: ws.on("framesent", lambda text: sent.append(text)))
        page.on("request", lambda r: r.method != "GET" and writes.append(r.method + " " + r.url))

    m = connected(open_as(mod, watch_path(live), before_goto=listen))
    m.on("dialog", lambda dialog: dialog.accept())
    toast = m.locator("[data-mod-toast]")
    m.locator(".comment", has_text="Off topic").get_by_role("button", name="Remove").click()
    expect(toast).to_have_text("Comment removed.")
    expect(comment_texts(b)).to_have_text(["On topic"])
    m.locator(".comment", has_text="On topic").get_by_role("button", name="Pin").click()
    expect(b.locator("[data-pinned-text]")).to_have_text("On topic")
    m.get_by_role("button", name="Unpin").click()
    expect(toast).to_have_text("Comment unpinned.")
    expect(b.locator("[data-pinned]")).to_be_hidden()
    assert writes == []
    messages = [json.loads(text) for text in sent]
    assert [msg["type"] for msg in messages if msg["type"] != "ping"] == [
        "comment.remove",
        "comment.pin",
        "comment.unpin",
    ]

    # A refusal over the socket reads as over REST: this moderator was just dismissed.
    services.moderator_remove(broadcast=live, actor=live.broadcaster, user=mod)
    m.locator(".comment", has_text="On topic").get_by_role("button", name="Pin").click()
    expect(toast).to_have_text(re.compile("Only the broadcaster, its moderators or staff"))
    expect(b.locator("[data-pinned]")).to_be_hidden()

    # With no WebSocket open, the same click goes over REST.
    services.moderator_appoint(broadcast=live, actor=live.broadcaster, user=mod)
    m.evaluate("window.__streamBlocked = true; window.__sockets.forEach((s) => s.close())")
    expect(m.locator("[data-connection]")).not_to_have_text("Live updates")
    with m.expect_request(lambda r: r.method == "DELETE"):
        m.locator(".comment", has_text="On topic").get_by_role("button", name="Remove").click()
    expect(comment_texts(b)).to_have_count(0)
