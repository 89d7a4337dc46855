"""Pages: home, watch and sign-up (the studio's are in ``studio_views``). Thin: selectors read,
services write."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie

from livevideo import abuse, selectors, services
from livevideo.errors import RateLimited
from livevideo.forms import SignupForm
from livevideo.models import Broadcast, Comment, ReactionKind
from realtime.clientaddress import request_client_address

COMMENTS_SHOWN = 100
REACTION_ICONS = {
    ReactionKind.LIKE: "👍",
    ReactionKind.CELEBRATE: "🎉",
    ReactionKind.SUPPORT: "🤝",
    ReactionKind.LOVE: "❤️",
    ReactionKind.INSIGHTFUL: "💡",
    ReactionKind.FUNNY: "😂",
}


def recent_comments(broadcast_id: int) -> list[Comment]:
    """The last visible comments, oldest first (newest at the bottom, as in a chat)."""
    newest_first = selectors.comments_visible(broadcast_id=broadcast_id).reverse()
    return list(newest_first[:COMMENTS_SHOWN])[::-1]


def reaction_rows(totals: dict[str, int]) -> list[dict[str, Any]]:
    """Every reaction kind with its label, icon and count, in the contract's order."""
    return [
        {"kind": kind, "label": kind.label, "icon": REACTION_ICONS[kind], "count": totals[kind]}
        for kind in ReactionKind
    ]


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "livevideo/home.html", selectors.broadcast_home())


@ensure_csrf_cookie  # watch.js reads the CSRF token from the cookie for its API calls.
def watch(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    broadcast = get_object_or_404(
        selectors.broadcast_list().select_related("pinned_comment__author"), pk=broadcast_id
    )
    data = selectors.broadcast_data(broadcast)
    context = {
        "broadcast": broadcast,
        "pinned": broadcast.pinned_comment,
        "broadcast_data": data,
        "reactions": reaction_rows(data["reactions"]["totals"]),
        "comments": recent_comments(broadcast.pk),
        "comments_limit": COMMENTS_SHOWN,
        "comment_max": services.COMMENT_MAX,
        **_viewer_context(broadcast, request.user),
    }
    return render(request, "livevideo/watch.html", context)


def _viewer_context(broadcast: Broadcast, user: Any) -> dict[str, Any]:
    """The viewer's own state and the chat rules, said before they type (watch.js keeps them
    current from the stream, with the same words)."""
    you = selectors.viewer_state(
        broadcast_id=broadcast.pk, broadcaster_id=broadcast.broadcaster_id, user=user
    )
    return {
        "you": you,
        "barred_text": _barred_text(you["barred"]),
        "chat_rules_text": _rules_text(selectors.chat_rules(broadcast)),
    }


def _barred_text(barred: dict[str, Any] | None) -> str:
    if barred is None:
        return ""
    if barred["until"] is None:
        return "You are banned from this broadcast's chat."
    return f"You are timed out until {barred['until'][11:16]} UTC."


def _rules_text(rules: dict[str, Any]) -> str:
    parts = []
    if rules["slow_mode_seconds"]:
        parts.append(f"Slow mode: one comment every {rules['slow_mode_seconds']} s")
    if not rules["links_allowed"]:
        parts.append("no links")
    if rules["blocked_words"]:
        parts.append("some words are blocked")
    text = " · ".join(parts)
    return f"{text[:1].upper()}{text[1:]}." if text else ""


def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            abuse.address_rate_check(action="SIGN_UP", client=request_client_address(request))
        except RateLimited as exc:
            form.add_error(None, exc.message)
            status = 429
        else:
            user = services.user_create(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                display_name=form.cleaned_data["display_name"],
            )
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {selectors.display_name(user)}!")
            return redirect("home")
    return render(request, "registration/signup.html", {"form": form}, status=status)
