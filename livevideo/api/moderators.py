"""Moderators' REST endpoints: who moderates a broadcast (appointed to it, or on its
broadcaster's standing list), and the caller's own standing list. Appointing is for the
broadcast's broadcaster and staff; its moderators may read the list."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from livevideo import permissions, selectors, services, shapes, watching
from livevideo.api.moderation import ModerationView, moderated_broadcast
from livevideo.api.schema import serializer_for
from livevideo.api.serializers import StrictIntegerField
from livevideo.api.views import broadcast_or_404, error_responses, validated


class AppointSerializer(serializers.Serializer):
    user_id = StrictIntegerField(min_value=1, max_value=2**63 - 1)


ModeratorSerializer = serializer_for(shapes.Moderator)
StandingModeratorSerializer = serializer_for(shapes.StandingModeratorData)
UserCardSerializer = serializer_for(shapes.UserCard)
WatchingSerializer = serializer_for(shapes.Watching)


def _user(user_id: int) -> Any:
    return get_object_or_404(get_user_model(), pk=user_id, is_active=True)


class ModeratorListView(ModerationView):
    @extend_schema(
        summary="A broadcast's moderators (its broadcaster, staff and moderators may read)",
        responses={200: ModeratorSerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, broadcast_id: int) -> Response:
        broadcast = moderated_broadcast(request, broadcast_id)
        return Response(selectors.moderators_of(broadcast=broadcast))

    @extend_schema(
        summary="Appoint a moderator of this broadcast (broadcaster or staff)",
        request=AppointSerializer,
        responses={201: ModeratorSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, broadcast_id: int) -> Response:
        broadcast = broadcast_or_404(broadcast_id)
        permissions.require_manager(broadcast, request.user)
        user = _user(validated(AppointSerializer, request.data)["user_id"])
        moderator = services.moderator_appoint(broadcast=broadcast, actor=request.user, user=user)
        body = {**selectors.moderator_data(moderator), "scope": "broadcast"}
        return Response(body, status=status.HTTP_201_CREATED)


class ModeratorDetailView(ModerationView):
    @extend_schema(
        summary="Remove a moderator of this broadcast (broadcaster or staff)",
        responses={204: None, **error_responses(400, 401, 403, 404)},
    )
    def delete(self, request: Request, broadcast_id: int, user_id: int) -> Response:
        broadcast = broadcast_or_404(broadcast_id)
        permissions.require_manager(broadcast, request.user)
        services.moderator_remove(broadcast=broadcast, actor=request.user, user=_user(user_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _standing_data(broadcaster: Any) -> list[shapes.StandingModeratorData]:
    standing = selectors.standing_moderators_of(broadcaster_id=broadcaster.pk)
    return [selectors.moderator_data(m) for m in standing]


class StandingModeratorListView(ModerationView):
    @extend_schema(
        summary="Your standing moderators (they moderate all your broadcasts)",
        responses={200: StandingModeratorSerializer(many=True), **error_responses(401, 403)},
    )
    def get(self, request: Request) -> Response:
        permissions.require_standing_list(request.user)
        return Response(_standing_data(request.user))

    @extend_schema(
        summary="Add to your standing moderators",
        request=AppointSerializer,
        responses={201: StandingModeratorSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request) -> Response:
        user = _user(validated(AppointSerializer, request.data)["user_id"])
        moderator = services.standing_moderator_add(broadcaster=request.user, user=user)
        return Response(selectors.moderator_data(moderator), status=status.HTTP_201_CREATED)


class StandingModeratorDetailView(ModerationView):
    @extend_schema(
        summary="Remove from your standing moderators",
        responses={204: None, **error_responses(400, 401, 404)},
    )
    def delete(self, request: Request, user_id: int) -> Response:
        services.standing_moderator_remove(broadcaster=request.user, user=_user(user_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserCardView(ModerationView):
    @extend_schema(
        summary="A user as a moderator sees them here: state and latest comments",
        responses={200: UserCardSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, broadcast_id: int, user_id: int) -> Response:
        broadcast = moderated_broadcast(request, broadcast_id)
        user = get_object_or_404(get_user_model(), pk=user_id)
        return Response(selectors.user_card(broadcast=broadcast, user=user))


class WatchingQuerySerializer(serializers.Serializer):
    q = serializers.CharField(required=False, default="", allow_blank=True, max_length=150)


class WatchingView(ModerationView):
    @extend_schema(
        summary="Who is watching now (moderators): signed-in viewers present, searchable",
        parameters=[WatchingQuerySerializer],
        responses={200: WatchingSerializer, **error_responses(400, 401, 403, 404)},
    )
    def get(self, request: Request, broadcast_id: int) -> Response:
        broadcast = moderated_broadcast(request, broadcast_id)
        query = validated(WatchingQuerySerializer, request.query_params)["q"]
        return Response(watching.watching_now(broadcast=broadcast, query=query))
