"""Moderators' REST endpoints (the broadcaster and staff): settings, bans and time-outs, the
pinned comment and the audit trail. Each view calls one ``livevideo.moderation`` service."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from livevideo import moderation, permissions, selectors, services, shapes
from livevideo.api.pagination import BroadcastPagination
from livevideo.api.schema import serializer_for
from livevideo.api.serializers import StrictIntegerField
from livevideo.api.views import broadcast_or_404, error_responses, paginated, validated
from livevideo.models import Broadcast


def moderated_broadcast(request: Request, broadcast_id: int) -> Broadcast:
    """The broadcast, if the caller moderates it (404 unknown, 403 not theirs)."""
    broadcast = broadcast_or_404(broadcast_id)
    permissions.require_moderator(broadcast, request.user)
    return broadcast


class SettingsSerializer(serializers.Serializer):
    slow_mode_seconds = StrictIntegerField(min_value=0, max_value=moderation.MAX_SLOW_MODE_SECONDS)
    blocked_words = serializers.CharField(allow_blank=True, max_length=5000, trim_whitespace=True)
    allow_links = serializers.BooleanField()
    hold_words = serializers.CharField(
        allow_blank=True,
        max_length=5000,
        trim_whitespace=True,
        required=False,
        help_text="Comments with any of these wait for approval (absent: unchanged).",
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        for field in ("blocked_words", "hold_words"):
            if isinstance(data, dict) and not isinstance(data.get(field, ""), str):
                raise serializers.ValidationError({field: ["Must be a string."]})
        return super().to_internal_value(data)


class BanCreateSerializer(serializers.Serializer):
    user_id = StrictIntegerField(min_value=1, max_value=2**63 - 1)
    seconds = StrictIntegerField(
        required=False,
        min_value=1,
        max_value=moderation.MAX_TIMEOUT_SECONDS,
        help_text="A time-out of this length; absent: a ban for good.",
    )
    remove_comments = serializers.BooleanField(default=False, help_text="Bans only.")
    reason = serializers.CharField(required=False, default="", allow_blank=True, max_length=200)


class PinSerializer(serializers.Serializer):
    comment_id = StrictIntegerField(min_value=1, max_value=2**63 - 1)


BanSerializer = serializer_for(shapes.Ban)
PinnedSerializer = serializer_for(shapes.Pinned)
AuditEntrySerializer = serializer_for(shapes.AuditEntry)
ModerationSettingsSerializer = serializer_for(shapes.ModerationSettings)


def _audit_page(entries: list[Any]) -> list[shapes.AuditEntry]:
    return [selectors.audit_entry_data(entry) for entry in entries]


class ModerationView(APIView):
    # The moderation endpoints' (and reports'): a signed-in user, the moderation throttle.
    # No docstring: the schema would show it as every subclass's description.

    permission_classes = [IsAuthenticated]
    throttle_scope = "moderation"


class _ModeratorView(ModerationView):
    """Every moderation endpoint, reads included, needs a signed-in moderator."""


class ModerationSettingsView(_ModeratorView):
    @extend_schema(
        summary="Moderation settings",
        responses={200: ModerationSettingsSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, broadcast_id: int) -> Response:
        return Response(selectors.moderation_settings(moderated_broadcast(request, broadcast_id)))

    @extend_schema(
        summary="Change slow mode, blocked words and links",
        request=SettingsSerializer,
        responses={200: ModerationSettingsSerializer, **error_responses(400, 401, 403, 404)},
    )
    def put(self, request: Request, broadcast_id: int) -> Response:
        broadcast = moderated_broadcast(request, broadcast_id)
        services.moderation_settings_update(
            broadcast=broadcast, actor=request.user, **validated(SettingsSerializer, request.data)
        )
        return Response(selectors.moderation_settings(broadcast))


class BanListView(_ModeratorView):
    @extend_schema(
        summary="Bans and time-outs in force",
        responses={200: BanSerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, broadcast_id: int) -> Response:
        broadcast = moderated_broadcast(request, broadcast_id)
        bans = selectors.bans_active(broadcast_id=broadcast.pk)
        return Response([selectors.ban_data(b) for b in bans])

    @extend_schema(
        summary="Time out (with seconds) or ban a user",
        request=BanCreateSerializer,
        responses={201: BanSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, broadcast_id: int) -> Response:
        broadcast = moderated_broadcast(request, broadcast_id)
        data = validated(BanCreateSerializer, request.data)
        user = get_object_or_404(get_user_model(), pk=data["user_id"])
        if "seconds" in data:
            ban = services.user_timeout(
                broadcast=broadcast,
                actor=request.user,
                user=user,
                seconds=data["seconds"],
                reason=data["reason"],
            )
        else:
            ban = services.user_ban(
                broadcast=broadcast,
                actor=request.user,
                user=user,
                remove_comments=data["remove_comments"],
                reason=data["reason"],
            )
        return Response(selectors.ban_data(ban), status=status.HTTP_201_CREATED)


class BanDetailView(_ModeratorView):
    @extend_schema(
        summary="Lift a ban or time-out", responses={204: None, **error_responses(401, 403, 404)}
    )
    def delete(self, request: Request, broadcast_id: int, user_id: int) -> Response:
        broadcast = moderated_broadcast(request, broadcast_id)
        user = get_object_or_404(get_user_model(), pk=user_id)
        services.user_unban(broadcast=broadcast, actor=request.user, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PinnedCommentView(_ModeratorView):
    @extend_schema(
        summary="Pin a comment (replaces the pinned one)",
        request=PinSerializer,
        responses={200: PinnedSerializer, **error_responses(400, 401, 403, 404)},
    )
    def put(self, request: Request, broadcast_id: int) -> Response:
        broadcast = moderated_broadcast(request, broadcast_id)
        comment_id = validated(PinSerializer, request.data)["comment_id"]
        comment = get_object_or_404(broadcast.comments.select_related("author"), pk=comment_id)
        comment.broadcast = broadcast
        services.comment_pin(comment=comment, actor=request.user)
        return Response(selectors.pinned_data(comment))

    @extend_schema(summary="Unpin", responses={204: None, **error_responses(401, 403, 404)})
    def delete(self, request: Request, broadcast_id: int) -> Response:
        services.comment_unpin(
            broadcast=moderated_broadcast(request, broadcast_id), actor=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditLogView(_ModeratorView):
    pagination_class = BroadcastPagination

    @extend_schema(
        summary="The moderation audit trail, newest first",
        responses={200: AuditEntrySerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, broadcast_id: int) -> Response:
        broadcast = moderated_broadcast(request, broadcast_id)
        return paginated(
            self, request, selectors.moderation_actions(broadcast_id=broadcast.pk), _audit_page
        )
