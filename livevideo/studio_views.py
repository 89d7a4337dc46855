"""The studio's pages and forms: a broadcaster's broadcasts, going live and ending, the stream key,
and moderation. Thin: selectors read, services write; answers JSON to studio.js's requests."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from livevideo import permissions, selectors, services
from livevideo.errors import ServiceError
from livevideo.forms import BanForm, BroadcastForm, ModerationSettingsForm, TimeoutForm
from livevideo.models import Broadcast, Comment
from livevideo.video import selectors as video
from livevideo.video import services as video_services
from livevideo.views import reaction_rows, recent_comments

AUDIT_SHOWN = 10
# The HTTP status of each ServiceError code, for studio.js's requests.
ERROR_STATUS = {"invalid": 400, "forbidden": 403, "conflict": 409, "rate_limited": 429}


def _managed_broadcast(request: HttpRequest, broadcast_id: int) -> Broadcast:
    """A broadcast the user runs; anyone else's is a 404, so ids reveal nothing."""
    return get_object_or_404(selectors.broadcasts_managed_by(user=request.user), pk=broadcast_id)


def _moderated_broadcast(request: HttpRequest, broadcast_id: int) -> Broadcast:
    """A broadcast the user runs or moderates (else 404)."""
    return get_object_or_404(selectors.broadcasts_moderated_by(user=request.user), pk=broadcast_id)


def _studio_url(broadcast: Broadcast) -> str:
    return reverse("studio_broadcast", kwargs={"broadcast_id": broadcast.pk})


def _back_url(request: HttpRequest, fallback: str) -> str:
    """The form's ``next`` when it is a safe local URL, else ``fallback``."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _answer(request: HttpRequest, back: str, message: str, status: int = 200) -> HttpResponse:
    """studio.js posts with ``Accept: application/json`` and gets the message as JSON; a plain
    form post gets the message flashed and a redirect."""
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"message": message}, status=status)
    (messages.success if status < 400 else messages.error)(request, message)
    return redirect(back)


def _run(
    request: HttpRequest, action: Callable[[], object], success: str, back: str
) -> HttpResponse:
    """Run a service; its refusal becomes a message for the user, never an error page."""
    try:
        action()
    except ServiceError as exc:
        return _answer(request, back, exc.message, ERROR_STATUS.get(exc.code, 400))
    return _answer(request, back, success)


def _invalid(request: HttpRequest, form: forms.Form, back: str) -> HttpResponse:
    reasons = [f"{error}" for errors in form.errors.values() for error in errors]
    return _answer(request, back, " ".join(reasons), 400)


@login_required
def studio(request: HttpRequest) -> HttpResponse:
    broadcasts = selectors.broadcasts_moderated_by(user=request.user)
    context = {"broadcasts": broadcasts, "can_broadcast": permissions.can_broadcast(request.user)}
    return render(request, "livevideo/studio/index.html", context)


@login_required
def studio_broadcast(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    broadcast = _moderated_broadcast(request, broadcast_id)
    can_manage = permissions.can_manage(broadcast=broadcast, actor=request.user)
    totals = selectors.reaction_totals(broadcast_id=broadcast.pk)
    context = {
        "broadcast": broadcast,
        "viewers": selectors.viewer_count(broadcast_id=broadcast.pk),
        "reactions": reaction_rows(totals["totals"]),
        "reactions_total": totals["total"],
        "comments": recent_comments(broadcast.pk),
        "settings_form": ModerationSettingsForm(instance=broadcast),
        "bans": selectors.bans_active(broadcast_id=broadcast.pk),
        "audit": selectors.moderation_actions_recent(broadcast_id=broadcast.pk, limit=AUDIT_SHOWN),
        "ingest": video.ingest_data(broadcast) if can_manage else None,
        "can_manage": can_manage,
        "moderators": selectors.moderators_of(broadcast=broadcast) if can_manage else [],
    }
    return render(request, "livevideo/studio/broadcast.html", context)


@login_required
def studio_broadcast_form(request: HttpRequest, broadcast_id: int | None = None) -> HttpResponse:
    """Create a broadcast (no id) or edit one's details."""
    broadcast = _managed_broadcast(request, broadcast_id) if broadcast_id else None
    if broadcast is None and not permissions.can_broadcast(request.user):
        raise PermissionDenied("Only broadcasters may create broadcasts; staff can make you one.")
    form = BroadcastForm(request.POST or None, instance=broadcast)
    if request.method == "POST" and form.is_valid():
        try:
            if broadcast is None:
                broadcast = services.broadcast_create(broadcaster=request.user, **form.cleaned_data)
                messages.success(request, "Broadcast created. Go live when you are ready.")
            else:
                services.broadcast_update(
                    broadcast=broadcast, actor=request.user, **form.cleaned_data
                )
                messages.success(request, "Broadcast saved.")
        except ServiceError as exc:
            form.add_service_error(exc)
        else:
            return redirect("studio_broadcast", broadcast_id=broadcast.pk)
    return render(request, "livevideo/studio/form.html", {"form": form, "broadcast": broadcast})


@login_required
@require_POST
def studio_start(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    broadcast = _managed_broadcast(request, broadcast_id)
    return _run(
        request,
        lambda: services.broadcast_start(broadcast=broadcast, actor=request.user),
        f"“{broadcast.title}” is live.",
        _back_url(request, _studio_url(broadcast)),
    )


@login_required
@require_POST
def studio_stream_key(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    broadcast = _managed_broadcast(request, broadcast_id)
    return _run(
        request,
        lambda: video_services.stream_key_rotate(broadcast=broadcast, actor=request.user),
        "New stream key: update your encoder. The old key no longer works.",
        _studio_url(broadcast),
    )


@login_required
@require_POST
def studio_end(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    broadcast = _managed_broadcast(request, broadcast_id)
    return _run(
        request,
        lambda: services.broadcast_end(broadcast=broadcast, actor=request.user),
        f"“{broadcast.title}” has ended.",
        _back_url(request, _studio_url(broadcast)),
    )


def _managed_comment(request: HttpRequest, broadcast_id: int, comment_id: int) -> Comment:
    """A visible comment on a broadcast the user runs or moderates (else 404)."""
    broadcast = _moderated_broadcast(request, broadcast_id)
    comment = get_object_or_404(
        selectors.comments_visible(broadcast_id=broadcast.pk), pk=comment_id
    )
    comment.broadcast = broadcast
    return comment


@login_required
@require_POST
def studio_comment_remove(request: HttpRequest, broadcast_id: int, comment_id: int) -> HttpResponse:
    comment = _managed_comment(request, broadcast_id, comment_id)
    return _run(
        request,
        lambda: services.comment_remove(comment=comment, actor=request.user),
        "Comment removed.",
        _studio_url(comment.broadcast),
    )


@login_required
@require_POST
def studio_comment_pin(request: HttpRequest, broadcast_id: int, comment_id: int) -> HttpResponse:
    comment = _managed_comment(request, broadcast_id, comment_id)
    return _run(
        request,
        lambda: services.comment_pin(comment=comment, actor=request.user),
        "Comment pinned.",
        _studio_url(comment.broadcast),
    )


@login_required
@require_POST
def studio_unpin(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    broadcast = _moderated_broadcast(request, broadcast_id)
    return _run(
        request,
        lambda: services.comment_unpin(broadcast=broadcast, actor=request.user),
        "Comment unpinned.",
        _studio_url(broadcast),
    )


def _duration(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds} s"


@login_required
@require_POST
def studio_user_timeout(request: HttpRequest, broadcast_id: int, user_id: int) -> HttpResponse:
    broadcast = _moderated_broadcast(request, broadcast_id)
    target = get_object_or_404(get_user_model(), pk=user_id)
    form = TimeoutForm(request.POST)
    back = _studio_url(broadcast)
    if not form.is_valid():
        return _invalid(request, form, back)
    seconds = form.cleaned_data["seconds"]
    return _run(
        request,
        lambda: services.user_timeout(
            broadcast=broadcast,
            actor=request.user,
            user=target,
            seconds=seconds,
            reason=form.cleaned_data["reason"],
        ),
        f"{selectors.display_name(target)} is timed out for {_duration(seconds)}.",
        back,
    )


@login_required
@require_POST
def studio_user_ban(request: HttpRequest, broadcast_id: int, user_id: int) -> HttpResponse:
    broadcast = _moderated_broadcast(request, broadcast_id)
    target = get_object_or_404(get_user_model(), pk=user_id)
    form = BanForm(request.POST)
    back = _studio_url(broadcast)
    if not form.is_valid():
        return _invalid(request, form, back)
    removed = " and their comments removed" if form.cleaned_data["remove_comments"] else ""
    return _run(
        request,
        lambda: services.user_ban(
            broadcast=broadcast, actor=request.user, user=target, **form.cleaned_data
        ),
        f"{selectors.display_name(target)} is banned from this broadcast{removed}.",
        back,
    )


@login_required
@require_POST
def studio_user_unban(request: HttpRequest, broadcast_id: int, user_id: int) -> HttpResponse:
    broadcast = _moderated_broadcast(request, broadcast_id)
    target = get_object_or_404(get_user_model(), pk=user_id)
    return _run(
        request,
        lambda: services.user_unban(broadcast=broadcast, actor=request.user, user=target),
        f"{selectors.display_name(target)} may take part again.",
        _studio_url(broadcast),
    )


@login_required
@require_POST
def studio_moderation_settings(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    broadcast = _moderated_broadcast(request, broadcast_id)
    form = ModerationSettingsForm(request.POST, instance=broadcast)
    back = _studio_url(broadcast)
    if not form.is_valid():
        return _invalid(request, form, back)
    return _run(
        request,
        lambda: services.moderation_settings_update(
            broadcast=broadcast, actor=request.user, **form.cleaned_data
        ),
        "Moderation settings saved.",
        back,
    )


@login_required
@require_POST
def studio_moderator_add(request: HttpRequest, broadcast_id: int) -> HttpResponse:
    """Appoint a moderator by username (the broadcaster and staff)."""
    broadcast = _managed_broadcast(request, broadcast_id)
    back = _studio_url(broadcast)
    username = request.POST.get("username", "").strip()
    target = get_user_model().objects.filter(username__iexact=username, is_active=True).first()
    if target is None:
        return _answer(request, back, f"No account named “{username}”.", 400)
    return _run(
        request,
        lambda: services.moderator_appoint(broadcast=broadcast, actor=request.user, user=target),
        f"{selectors.display_name(target)} is a moderator of this broadcast.",
        back,
    )


@login_required
@require_POST
def studio_moderator_remove(request: HttpRequest, broadcast_id: int, user_id: int) -> HttpResponse:
    broadcast = _managed_broadcast(request, broadcast_id)
    target = get_object_or_404(get_user_model(), pk=user_id)
    return _run(
        request,
        lambda: services.moderator_remove(broadcast=broadcast, actor=request.user, user=target),
        f"{selectors.display_name(target)} no longer moderates this broadcast.",
        _studio_url(broadcast),
    )
