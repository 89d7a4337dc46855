"""The watch page in real browsers: two signed-in viewers, one broadcaster, one server."""

from __future__ import annotations

import json
import re

from django.conf import settings
from playwright.sync_api import Page, WebSocket, expect

from livevideo import services
from tests.e2e.pages import comment_texts, connected, reconnected, send_comment, watch_path

XSS = "<img src=x onerror=alert(1)>"
WITHIN_A_SECOND = 1_500  # ms: a second, plus headroom for a loaded CI machine
# WebSockets never open (a network that blocks them): realtime.js falls back to SSE.
# A WebSocket that never opens: a same-origin path with no WebSocket behind it (another origin
# would be blocked by the page's Content-Security-Policy, which fails it without a close event).
NO_WEBSOCKET = """
window.WebSocket = class extends window.WebSocket {
  constructor(url, ...rest) {
    super(url.replace("/ws/broadcasts/", "/ws/nothing-here/"), ...rest);
  }
};
"""


def _count(page: Page, kind: str):
    return page.locator(f'[data-reaction="{kind}"] [data-count]')


def _posts(page: Page) -> list[str]:
    """The URLs the page POSTs to from now on."""
    posted: list[str] = []
    page.on("request", lambda request: request.method == "POST" and posted.append(request.url))
    return posted


def test_reaction_and_comment_reach_the_other_viewer(open_as, live, ann, bob):
    a = connected(open_as(ann, watch_path(live)))
    b = connected(open_as(bob, watch_path(live)))

    a.get_by_role("button", name=re.compile(r"^Love")).click()
    expect(a.locator('[data-reaction="love"] [data-count]')).to_have_text("1")  # at once
    expect(b.locator('[data-reaction="love"] [data-count]')).to_have_text(
        "1", timeout=WITHIN_A_SECOND
    )
    expect(b.locator(".float-sprite").first).to_be_attached(timeout=WITHIN_A_SECOND)

    send_comment(a, "Hello from Ann")
    expect(comment_texts(b)).to_have_text(["Hello from Ann"], timeout=WITHIN_A_SECOND)
    expect(b.locator(".comment-author")).to_have_text(["Ann"])
    expect(b.locator(".comment [data-presence-user]")).to_have_class(re.compile("is-online"))
    expect(a.locator("[data-counter]")).to_have_text("0 / 500")


def test_viewer_count_follows_a_third_viewer(open_as, live, ann, bob):
    a = connected(open_as(ann, watch_path(live)))
    connected(open_as(bob, watch_path(live)))
    expect(a.locator("[data-viewers]")).to_have_text("2")

    third = connected(open_as(None, watch_path(live)))
    expect(a.locator("[data-viewers]")).to_have_text("3")
    third.context.close()
    expect(a.locator("[data-viewers]")).to_have_text("2")


def test_a_removed_comment_vanishes_for_everyone(open_as, live, caster, ann, bob):
    a = connected(open_as(ann, watch_path(live)))
    b = connected(open_as(bob, watch_path(live)))
    send_comment(a, "Something regrettable")
    send_comment(b, "A kind word")
    expect(comment_texts(b)).to_have_text(["Something regrettable", "A kind word"])

    studio = connected(open_as(caster, f"/studio/{live.pk}/"))
    studio.on("dialog", lambda dialog: dialog.accept())  # "Remove this comment for everyone?"
    row = studio.locator(".studio-comment", has_text="Something regrettable")
    row.get_by_role("button", name="Remove", exact=True).click()

    expect(studio.locator("[data-toast]")).to_have_text("Comment removed.")
    for page in (a, b):
        expect(comment_texts(page)).to_have_text(["A kind word"])
    expect(studio.locator(".studio-comment .comment-text")).to_have_text(["A kind word"])


def test_going_live_and_ending_from_the_studio(open_as, caster, ann):
    show = services.broadcast_create(broadcaster=caster, title="Coming soon")
    viewer = connected(open_as(ann, watch_path(show)))
    badge = viewer.locator(".watch [data-status-badge]")
    expect(badge).to_have_text("Upcoming")
    expect(viewer.get_by_label("Add a comment")).to_be_disabled()

    studio = open_as(caster, f"/studio/{show.pk}/")
    studio.on("dialog", lambda dialog: dialog.accept())  # "Go live…?" / "End…?"
    studio.get_by_role("button", name="Go live").click()
    expect(badge).to_have_text("Live")
    expect(viewer.get_by_label("Add a comment")).to_be_enabled()
    expect(viewer.get_by_role("button", name=re.compile(r"^Like"))).to_be_enabled()

    studio.get_by_role("button", name="End").click()
    expect(badge).to_have_text("Ended")
    expect(viewer.get_by_label("Add a comment")).to_be_disabled()
    expect(viewer.locator("[data-composer-note]")).to_be_visible()


def test_a_dropped_connection_catches_up(open_as, live, ann, bob):
    a = connected(open_as(ann, watch_path(live)))
    b = connected(open_as(bob, watch_path(live)))
    send_comment(b, "Before the drop")
    expect(comment_texts(a)).to_have_text(["Before the drop"])

    a.evaluate("window.__streamBlocked = true; window.__sockets.forEach((s) => s.close())")
    expect(a.locator("[data-connection]")).to_have_text("Reconnecting…")
    send_comment(b, "While you were away")
    expect(comment_texts(b)).to_have_text(["Before the drop", "While you were away"])
    expect(comment_texts(a)).to_have_text(["Before the drop"])

    a.evaluate("window.__streamBlocked = false")
    reconnected(a)
    expect(comment_texts(a)).to_have_text(["Before the drop", "While you were away"])


def test_a_connection_that_hangs_is_given_up_and_tried_again(open_as, live, ann):
    """An attempt that never opens nor fails (here: blocked by the page's Content-Security-
    Policy, which in Chromium fails a WebSocket without a close event) must not leave the page
    waiting for ever: realtime.js gives it up after its connect timeout."""
    page = connected(open_as(ann, watch_path(live)))
    states = page.evaluate(
        """async (id) => {
          const { connect } = await import("/static/js/realtime.js");
          window.__streamHangs = true;
          return await new Promise((resolve) => {
            const states = [];
            connect(id, {
              connectTimeout: 500,
              onState(state, detail) {
                states.push(`${state} ${detail.transport || ""}`.trim());
                if (state === "reconnecting") window.__streamHangs = false;
                if (state === "live") resolve(states);
              },
            });
            setTimeout(() => resolve(states), 8000);
          }).finally(() => (window.__streamHangs = false));
        }""",
        live.pk,
    )
    assert states == ["connecting", "reconnecting websocket", "live websocket"]


def test_comment_markup_stays_text(open_as, fail_on_dialog, live, caster, ann, bob):
    a = fail_on_dialog(connected(open_as(ann, watch_path(live))))
    b = fail_on_dialog(connected(open_as(bob, watch_path(live))))
    studio = fail_on_dialog(connected(open_as(caster, f"/studio/{live.pk}/")))

    send_comment(a, XSS)
    for page in (a, b, studio):
        expect(page.locator(".comment-text")).to_have_text([XSS])
        assert page.locator(".comment-text img").count() == 0
    b.reload()  # and as the server renders it
    expect(b.locator(".comment-text")).to_have_text([XSS])
    assert b.locator(".comment-text img").count() == 0


def test_anonymous_viewer_watches_and_is_invited(open_as, live):
    page = connected(open_as(None, watch_path(live)))
    expect(page.get_by_role("heading", name="Launch day")).to_be_visible()
    expect(page.get_by_text("to comment and react")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"^Like"))).to_be_disabled()
    expect(page.get_by_label("Add a comment")).to_have_count(0)


def test_composer_explains_limits_and_waits(open_as, live, ann):
    page = open_as(ann, watch_path(live))
    box = page.get_by_label("Add a comment")
    box.fill("x" * 480)
    expect(page.locator("[data-counter]")).to_have_text("480 / 500")
    expect(page.locator("[data-counter]")).to_have_class(re.compile("counter-warn"))

    for n in range(5):  # the per-user limit: 5 comments per 10 s
        send_comment(page, f"message {n}")
        expect(comment_texts(page).last).to_have_text(f"message {n}")
    page.get_by_label("Add a comment").fill("one too many")
    page.get_by_role("button", name="Send").click()
    error = page.locator("[data-composer-error]")
    expect(error).to_have_text(re.compile(r"Too many comments.*You can send again in \d+ s\."))
    expect(page.get_by_role("button", name="Send")).to_be_disabled()


def test_a_tap_goes_over_the_websocket_and_reaches_the_other_viewer(open_as, live, ann, bob):
    sockets: list[WebSocket] = []

    def listen(page: Page) -> None:
        page.on("websocket", lambda socket: sockets.append(socket))

    a = connected(open_as(ann, watch_path(live), before_goto=listen))
    posted = _posts(a)
    b = connected(open_as(bob, watch_path(live)))

    with sockets[-1].expect_event("framesent", lambda payload: "reaction" in payload) as frame:
        a.get_by_role("button", name=re.compile(r"^Love")).click()
    message = json.loads(frame.value)
    assert message == {"type": "reaction", "kind": "love", "ref": message["ref"]}
    assert re.fullmatch(r"tap-\d+", message["ref"])
    expect(_count(a, "love")).to_have_text("1")
    expect(_count(b, "love")).to_have_text("1", timeout=WITHIN_A_SECOND)
    assert posted == []


def test_refused_taps_show_why_and_stop_counting(open_as, live, ann, bob):
    limit, _ = settings.RATE_LIMITS["REACTION"]  # taps per user per second
    a = connected(open_as(ann, watch_path(live)))
    posted = _posts(a)
    b = connected(open_as(bob, watch_path(live)))

    a.locator('[data-reaction="like"]').evaluate(
        "(button, taps) => { for (let n = 0; n < taps; n++) button.click(); }", limit + 5
    )
    expect(a.locator("[data-reaction-error]")).to_have_text(
        re.compile(
            r"^Too many reactions; try again in \d+ s\. Expected available in \d+ seconds?\.$"
        )
    )
    expect(_count(a, "like")).to_have_text(str(limit))  # the 5 refused taps are taken back
    expect(_count(b, "like")).to_have_text(str(limit))
    assert posted == []


def test_totals_that_come_after_newer_ones_are_not_shown(open_as, live, ann):
    """Totals only grow: totals read before those shown but arriving after them (another
    server's or region's) leave the counts as they are."""
    page = connected(open_as(ann, watch_path(live)))

    def totals(love: int) -> None:
        data = {"totals": {"love": love}, "total": love}
        event = {"type": "reactions", "id": None, "ts": 0, "data": data}
        page.evaluate("(event) => window.LiveVideoWatch.applyEvents([event])", event)

    totals(3)
    expect(_count(page, "love")).to_have_text("3")
    totals(1)  # read before the 3: it came late
    totals(4)
    expect(_count(page, "love")).to_have_text("4")
    totals(2)  # applied at once (applyEvents is synchronous): the count would show it now
    assert _count(page, "love").text_content() == "4"


def test_without_a_websocket_taps_go_over_rest(open_as, live, ann, bob):
    a = connected(open_as(ann, watch_path(live), init_script=NO_WEBSOCKET))
    assert a.evaluate("window.LiveVideoWatch.client.transport") == "sse"
    b = connected(open_as(bob, watch_path(live)))

    with a.expect_request(lambda request: request.method == "POST") as request:
        a.get_by_role("button", name=re.compile(r"^Love")).click()
    assert request.value.url.endswith(f"/api/broadcasts/{live.pk}/reactions/")
    assert request.value.post_data_json == {"kind": "love"}
    expect(_count(a, "love")).to_have_text("1")
    expect(_count(b, "love")).to_have_text("1", timeout=WITHIN_A_SECOND)
