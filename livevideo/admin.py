"""The admin. Staff see everything; broadcasters see and run only their own broadcasts.

Every change goes through ``livevideo.services`` (actions included), so the admin keeps the same
rules and emits the same real-time events as the pages and the API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils.html import format_html_join

from livevideo import permissions, selectors, services
from livevideo.errors import ServiceError
from livevideo.forms import (
    AdminSignInForm,
    BroadcastAdminForm,
    BroadcastForm,
    ModerationSettingsForm,
)
from livevideo.models import Broadcast, BroadcastBan, Comment, ModerationAction, Reaction

MODERATION_FIELDS = ModerationSettingsForm.Meta.fields


# The admin's sign-in counts against the same limits as the site's and the API's.
admin.site.login_form = AdminSignInForm


def sees_everything(request: HttpRequest) -> bool:
    """Platform staff see every broadcast; broadcasters only their own."""
    return permissions.can_see_every_broadcast(request.user)


def _apply_each(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    objects: Iterable[Model],
    service: Callable[[Any], object],
    done: str,
) -> None:
    """Run a service on each selected object; report successes and each refusal."""
    succeeded = 0
    for obj in objects:
        try:
            service(obj)
        except ServiceError as exc:
            model_admin.message_user(request, f"“{obj}”: {exc.message}", messages.ERROR)
        else:
            succeeded += 1
    if succeeded:
        model_admin.message_user(request, f"{succeeded} {done}.", messages.SUCCESS)


class BroadcasterScopedAdmin(admin.ModelAdmin):
    """Limits broadcasters to rows of their own broadcasts; ``owner_lookup`` reaches the owner."""

    owner_lookup = "broadcast__broadcaster"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request)
        if sees_everything(request):
            return qs
        return qs.filter(**{self.owner_lookup: request.user})

    def broadcast_of(self, obj: Model) -> Broadcast:
        return obj.broadcast

    def _owns(self, request: HttpRequest, obj: Model | None) -> bool:
        """The rows of a broadcast its broadcaster runs (``permissions.can_manage``)."""
        return obj is None or permissions.can_manage(
            broadcast=self.broadcast_of(obj), actor=request.user
        )

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return super().has_view_permission(request, obj) and self._owns(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return super().has_change_permission(request, obj) and self._owns(request, obj)


@admin.register(Broadcast)
class BroadcastAdmin(BroadcasterScopedAdmin):
    owner_lookup = "broadcaster"
    form = BroadcastAdminForm
    list_display = ("title", "broadcaster", "status", "started_at", "ended_at", "reaction_total")
    list_filter = ("status",)
    search_fields = ("title", "broadcaster__username")
    date_hierarchy = "created_at"
    actions = ("start_broadcasts", "end_broadcasts")

    def broadcast_of(self, obj: Model) -> Broadcast:
        return obj

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .select_related("broadcaster")
            .annotate(_reaction_total=Coalesce(Sum("reaction_totals__count"), 0))
        )

    def get_fields(self, request: HttpRequest, obj: Broadcast | None = None) -> list[str]:
        # Only a superuser picks someone else as the broadcaster, and only when adding; once
        # the broadcast exists, the broadcaster is among the read-only fields (listed once).
        owner = ["broadcaster"] if obj is None and request.user.is_superuser else []
        # Moderation settings once the broadcast exists (they start at their defaults).
        settings = MODERATION_FIELDS if obj is not None else ()
        return [
            *owner,
            *BroadcastForm.Meta.fields,
            *settings,
            *self.get_readonly_fields(request, obj),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Broadcast | None = None) -> tuple:
        if obj is None:
            return ()
        return ("broadcaster", "status", "started_at", "ended_at", "created_at", "reactions")

    def save_model(
        self, request: HttpRequest, obj: Broadcast, form: BroadcastForm, change: bool
    ) -> None:
        details = {name: form.cleaned_data[name] for name in BroadcastForm.Meta.fields}
        if change:
            services.broadcast_update(broadcast=obj, actor=request.user, **details)
            if set(MODERATION_FIELDS) & set(form.changed_data):
                # Through the service, so the change is checked and lands in the audit trail.
                services.moderation_settings_update(
                    broadcast=obj,
                    actor=request.user,
                    **{name: form.cleaned_data[name] for name in MODERATION_FIELDS},
                )
            return
        broadcaster = form.cleaned_data.get("broadcaster") or request.user
        created = services.broadcast_create(broadcaster=broadcaster, **details)
        # The admin goes on with ``obj`` (log entry, redirect): give it the saved row's identity.
        obj.pk, obj.broadcaster, obj.created_at = (
            created.pk,
            created.broadcaster,
            created.created_at,
        )
        obj._state.adding = False

    @admin.display(description="Reactions", ordering="_reaction_total")
    def reaction_total(self, obj: Broadcast) -> int:
        return obj._reaction_total

    @admin.display(description="Reaction totals")
    def reactions(self, obj: Broadcast) -> str:
        totals = selectors.reaction_totals(broadcast_id=obj.pk)["totals"]
        return format_html_join(", ", "{}: {}", totals.items())

    @admin.action(description="Start (go live)", permissions=["change"])
    def start_broadcasts(self, request: HttpRequest, queryset: QuerySet[Broadcast]) -> None:
        _apply_each(
            self,
            request,
            queryset,
            lambda b: services.broadcast_start(broadcast=b, actor=request.user),
            "broadcast(s) started",
        )

    @admin.action(description="End", permissions=["change"])
    def end_broadcasts(self, request: HttpRequest, queryset: QuerySet[Broadcast]) -> None:
        _apply_each(
            self,
            request,
            queryset,
            lambda b: services.broadcast_end(broadcast=b, actor=request.user),
            "broadcast(s) ended",
        )


@admin.register(Comment)
class CommentAdmin(BroadcasterScopedAdmin):
    """Comments are moderated with the Remove / Restore actions, never edited."""

    list_display = ("text", "author", "broadcast", "created_at", "is_removed")
    list_filter = (("broadcast", admin.RelatedOnlyFieldListFilter), "is_removed")
    search_fields = ("text", "author__username", "broadcast__title")
    list_select_related = ("author", "broadcast")
    fields = readonly_fields = (
        "broadcast",
        "author",
        "text",
        "created_at",
        "is_removed",
        "removed_by",
        "removed_at",
    )
    actions = (
        "remove_comments",
        "restore_comments",
        "pin_comment",
        "time_out_authors",
        "ban_authors",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Comment | None = None) -> bool:
        # The list's actions need "change"; a single comment's page is view-only.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Comment | None = None) -> bool:
        return False

    @admin.action(description="Remove (hide for everyone)", permissions=["change"])
    def remove_comments(self, request: HttpRequest, queryset: QuerySet[Comment]) -> None:
        _apply_each(
            self,
            request,
            queryset.select_related("broadcast"),
            lambda c: services.comment_remove(comment=c, actor=request.user),
            "comment(s) removed",
        )

    @admin.action(description="Restore", permissions=["change"])
    def restore_comments(self, request: HttpRequest, queryset: QuerySet[Comment]) -> None:
        _apply_each(
            self,
            request,
            queryset.select_related("broadcast"),
            lambda c: services.comment_restore(comment=c, actor=request.user),
            "comment(s) restored",
        )

    @admin.action(description="Pin (on top of its broadcast)", permissions=["change"])
    def pin_comment(self, request: HttpRequest, queryset: QuerySet[Comment]) -> None:
        _apply_each(
            self,
            request,
            queryset.select_related("broadcast"),
            lambda c: services.comment_pin(comment=c, actor=request.user),
            "comment(s) pinned",
        )

    @admin.action(description="Time out the authors for 10 minutes", permissions=["change"])
    def time_out_authors(self, request: HttpRequest, queryset: QuerySet[Comment]) -> None:
        _apply_each(
            self,
            request,
            queryset.select_related("broadcast", "author"),
            lambda c: services.user_timeout(
                broadcast=c.broadcast, actor=request.user, user=c.author, seconds=600
            ),
            "author(s) timed out",
        )

    @admin.action(description="Ban the authors from the broadcast", permissions=["change"])
    def ban_authors(self, request: HttpRequest, queryset: QuerySet[Comment]) -> None:
        _apply_each(
            self,
            request,
            queryset.select_related("broadcast", "author"),
            lambda c: services.user_ban(broadcast=c.broadcast, actor=request.user, user=c.author),
            "author(s) banned",
        )


@admin.register(Reaction)
class ReactionAdmin(BroadcasterScopedAdmin):
    """Read-only: reactions come from viewers; the totals live on each broadcast."""

    list_display = ("broadcast", "user", "kind", "created_at")
    list_filter = ("kind",)
    list_select_related = ("broadcast", "user")
    # Counting millions of rows for "n of N" would make every page slow.
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Reaction | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Reaction | None = None) -> bool:
        return False


class ModerationRecordAdmin(BroadcasterScopedAdmin):
    """Read-only records of moderation, for whoever may run broadcasts (the broadcasters group
    or staff with broadcast permissions), each seeing only their own broadcasts' rows."""

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.has_perm("livevideo.view_broadcast") and self._owns(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # The list's actions need "change"; a single record's page is view-only.
        return (
            obj is None
            and request.user.has_perm("livevideo.change_broadcast")
            and self._owns(request, obj)
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(BroadcastBan)
class BroadcastBanAdmin(ModerationRecordAdmin):
    """Bans and time-outs; the studio makes them, "Lift" here ends them."""

    list_display = ("user", "broadcast", "until", "reason", "created_by", "created_at")
    list_filter = (("broadcast", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("user__username", "broadcast__title")
    list_select_related = ("user", "broadcast", "created_by")
    fields = readonly_fields = ("broadcast", "user", "until", "reason", "created_by", "created_at")
    actions = ("lift_bans",)

    @admin.action(description="Lift (ban or time-out)", permissions=["change"])
    def lift_bans(self, request: HttpRequest, queryset: QuerySet[BroadcastBan]) -> None:
        _apply_each(
            self,
            request,
            queryset.select_related("broadcast", "user"),
            lambda ban: services.user_unban(
                broadcast=ban.broadcast, actor=request.user, user=ban.user
            ),
            "ban(s) lifted",
        )


@admin.register(ModerationAction)
class ModerationActionAdmin(ModerationRecordAdmin):
    """The audit trail: who did what to whom, on which broadcast. Never edited."""

    list_display = ("created_at", "broadcast", "action", "actor", "target_user", "detail")
    list_filter = (("broadcast", admin.RelatedOnlyFieldListFilter), "action")
    search_fields = ("actor__username", "target_user__username", "broadcast__title")
    list_select_related = ("broadcast", "actor", "target_user")
    date_hierarchy = "created_at"
    fields = readonly_fields = (
        "created_at",
        "broadcast",
        "action",
        "actor",
        "target_user",
        "comment",
        "detail",
    )

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
