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

from livevideo import moderation, permissions, selectors, services
from livevideo.api.pagination import BroadcastPagination
from livevideo.api.serializers import CommentSerializer, UserSerializer
from livevideo.api.views import broadcast_or_404, error_responses, paginated, validated
from livevideo.errors import NotAllowed
from livevideo.models import Broadcast, BroadcastBan, ModerationAction


def _moderated(request: Request, broadcast_id: int) -> Broadcast:
    """The broadcast, if the caller moderates it (404 unknown, 403 not theirs)."""
    broadcast = broadcast_or_404(broadcast_id)
    if not permissions.can_moderate(broadcast=broadcast, actor=request.user):
        raise NotAllowed("Only the broadcaster or staff may moderate this broadcast.")
    return broadcast


class StrictIntegerField(serializers.IntegerField):
    """An integer that must arrive as a JSON number, not a numeric string."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


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


class BanSerializer(serializers.Serializer):
    user = UserSerializer()
    until = serializers.DateTimeField(allow_null=True, help_text="null: banned for good.")
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class PinSerializer(serializers.Serializer):
    comment_id = StrictIntegerField(min_value=1, max_value=2**63 - 1)


class PinnedSerializer(serializers.Serializer):
    comment = CommentSerializer()


class AuditEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    action = serializers.ChoiceField(choices=ModerationAction.Action.choices)
    actor = UserSerializer(allow_null=True)
    target_user = UserSerializer(allow_null=True)
    comment_id = serializers.IntegerField(allow_null=True)
    detail = serializers.CharField()
    created_at = serializers.DateTimeField()


def _settings_data(broadcast: Broadcast) -> dict[str, Any]:
    return {
        "slow_mode_seconds": broadcast.slow_mode_seconds,
        "blocked_words": broadcast.blocked_words,
        "allow_links": broadcast.allow_links,
        "hold_words": broadcast.hold_words,
    }


def _ban_data(ban: BroadcastBan) -> dict[str, Any]:
    return {
        "user": selectors.user_data(ban.user),
        "until": selectors.iso(ban.until),
        "reason": ban.reason,
        "created_at": selectors.iso(ban.created_at),
    }


def _user_or_none(user: Any) -> dict[str, Any] | None:
    return selectors.user_data(user) if user else None


def _audit_data(entries: list[ModerationAction]) -> list[dict[str, Any]]:
    return [
        {
            "id": e.pk,
            "action": e.action,
            "actor": _user_or_none(e.actor),
            "target_user": _user_or_none(e.target_user),
            "comment_id": e.comment_id,
            "detail": e.detail,
            "created_at": selectors.iso(e.created_at),
        }
        for e in entries
    ]


class _ModeratorView(APIView):
    """Every moderation endpoint, reads included, needs a signed-in moderator."""

    permission_classes = [IsAuthenticated]
    throttle_scope = "moderation"


class ModerationSettingsView(_ModeratorView):
    @extend_schema(
        summary="Moderation settings",
        responses={200: SettingsSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, broadcast_id: int) -> Response:
        return Response(_settings_data(_moderated(request, broadcast_id)))

    @extend_schema(
        summary="Change slow mode, blocked words and links",
        request=SettingsSerializer,
        responses={200: SettingsSerializer, **error_responses(400, 401, 403, 404)},
    )
    def put(self, request: Request, broadcast_id: int) -> Response:
        broadcast = _moderated(request, broadcast_id)
        services.moderation_settings_update(
            broadcast=broadcast, actor=request.user, **validated(SettingsSerializer, request.data)
        )
        return Response(_settings_data(broadcast))


class BanListView(_ModeratorView):
    @extend_schema(
        summary="Bans and time-outs in force",
        responses={200: BanSerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, broadcast_id: int) -> Response:
        broadcast = _moderated(request, broadcast_id)
        return Response([_ban_data(b) for b in selectors.bans_active(broadcast_id=broadcast.pk)])

    @extend_schema(
        summary="Time out (with seconds) or ban a user",
        request=BanCreateSerializer,
        responses={201: BanSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, broadcast_id: int) -> Response:
        broadcast = _moderated(request, broadcast_id)
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
        return Response(_ban_data(ban), status=status.HTTP_201_CREATED)


class BanDetailView(_ModeratorView):
    @extend_schema(
        summary="Lift a ban or time-out", responses={204: None, **error_responses(401, 403, 404)}
    )
    def delete(self, request: Request, broadcast_id: int, user_id: int) -> Response:
        broadcast = _moderated(request, broadcast_id)
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
        broadcast = _moderated(request, broadcast_id)
        comment_id = validated(PinSerializer, request.data)["comment_id"]
        comment = get_object_or_404(broadcast.comments.select_related("author"), pk=comment_id)
        comment.broadcast = broadcast
        services.comment_pin(comment=comment, actor=request.user)
        return Response({"comment": selectors.comment_data(comment)})

    @extend_schema(summary="Unpin", responses={204: None, **error_responses(401, 403, 404)})
    def delete(self, request: Request, broadcast_id: int) -> Response:
        services.comment_unpin(broadcast=_moderated(request, broadcast_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditLogView(_ModeratorView):
    pagination_class = BroadcastPagination

    @extend_schema(
        summary="The moderation audit trail, newest first",
        responses={200: AuditEntrySerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, broadcast_id: int) -> Response:
        broadcast = _moderated(request, broadcast_id)
        return paginated(
            self, request, selectors.moderation_actions(broadcast_id=broadcast.pk), _audit_data
        )
