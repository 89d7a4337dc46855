"""The REST API: each view checks input types, calls one service or selector, answers JSON.

Rules and permissions live in ``livevideo.services`` (their errors become 400/403/409/429 in
``livevideo.api.errors``); shapes come from ``livevideo.selectors``, shared with the stream.
Anonymous writes are refused with 401 by DRF's ``IsAuthenticatedOrReadOnly`` default.

Throttling: every view names a ``throttle_scope``; turning it on is a settings change
(``DEFAULT_THROTTLE_CLASSES = [ScopedRateThrottle]`` and a rate per scope), which DRF answers
with 429 and ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import api_view, permission_classes, schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from livevideo import abuse, permissions, selectors, services
from livevideo.api import serializers as s
from livevideo.api.pagination import BroadcastPagination, CommentPagination
from livevideo.api.writes import comment_answer
from livevideo.models import Broadcast
from livevideo.signin import sign_in_attempt
from livevideo.video import latency, timeline
from livevideo.video import selectors as video
from livevideo.video import services as video_services
from presence import selectors as presence
from realtime.clientaddress import request_client_address

_FIELD_ERRORS = {
    "type": "object",
    "description": "`{field: [message]}`, or `{detail: message}` when no one field is at fault.",
    "additionalProperties": {
        "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]
    },
}
_ERRORS = {
    400: OpenApiResponse(_FIELD_ERRORS, description="Bad input."),
    401: OpenApiResponse(s.ErrorSerializer, description="Not signed in."),
    403: OpenApiResponse(s.ErrorSerializer, description="Not allowed (or missing CSRF token)."),
    404: OpenApiResponse(s.ErrorSerializer, description="No such broadcast, comment or page."),
    409: OpenApiResponse(
        s.ErrorSerializer, description="The broadcast's status does not allow this."
    ),
    429: OpenApiResponse(s.ErrorSerializer, description="Too many; see Retry-After."),
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: _ERRORS[code] for code in codes}


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def paginated(
    view: APIView, request: Request, queryset: QuerySet, render: Callable[[list], list]
) -> Response:
    """One page of ``queryset`` by the view's ``pagination_class``, its items ``render``-ed."""
    paginator = view.pagination_class()  # type: ignore[attr-defined]
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(render(page))


def broadcast_or_404(broadcast_id: int) -> Broadcast:
    return get_object_or_404(selectors.broadcast_list(), pk=broadcast_id)


def broadcast_detail(broadcast: Broadcast, request: Request) -> dict[str, Any]:
    """The detail, with the ingest URL and stream key when the caller runs the broadcast."""
    data = selectors.broadcast_data(broadcast)
    if permissions.can_manage(broadcast=broadcast, actor=request.user):
        data.update(video.ingest_data(broadcast))
    return data


@extend_schema_view(
    post=extend_schema(
        summary="Get an API token",
        description="Send it as `Authorization: Token <key>`; writes then need no CSRF token.",
        tags=["auth"],
        auth=[],
        responses={200: s.TokenSerializer, **error_responses(400)},
    )
)
class TokenView(ObtainAuthToken):
    # DRF's view with strict input; unlike DRF's, it honours the throttling settings.

    serializer_class = s.TokenSerializer
    throttle_classes = APIView.throttle_classes
    throttle_scope = "auth"

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        username = request.data.get("username") if hasattr(request.data, "get") else None
        with sign_in_attempt(
            username=username if isinstance(username, str) else "",
            client=request_client_address(request),
            failure=exceptions.ValidationError,
        ):
            return super().post(request, *args, **kwargs)


class BroadcastListView(APIView):
    pagination_class = BroadcastPagination
    throttle_scope = "broadcasts"

    @extend_schema(
        summary="List broadcasts, newest first",
        description="Each item has the same shape as the broadcast detail.",
        parameters=[s.BroadcastQuerySerializer],
        responses={200: s.BroadcastSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request: Request) -> Response:
        query = validated(s.BroadcastQuerySerializer, request.query_params)
        broadcasts = selectors.broadcast_list(status=query.get("status"))
        return paginated(self, request, broadcasts, selectors.broadcasts_data)

    @extend_schema(
        summary="Create a broadcast; the caller becomes its broadcaster",
        request=s.BroadcastCreateSerializer,
        responses={201: s.BroadcastDetailSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        broadcast = services.broadcast_create(
            broadcaster=request.user, **validated(s.BroadcastCreateSerializer, request.data)
        )
        return Response(broadcast_detail(broadcast, request), status=status.HTTP_201_CREATED)


class BroadcastDetailView(APIView):
    throttle_scope = "broadcasts"

    @extend_schema(
        summary="One broadcast",
        description="`ingest_url` and `stream_key` only for its broadcaster and staff.",
        responses={200: s.BroadcastDetailSerializer, **error_responses(404)},
    )
    def get(self, request: Request, broadcast_id: int) -> Response:
        return Response(broadcast_detail(broadcast_or_404(broadcast_id), request))


class StreamKeyView(APIView):
    throttle_scope = "broadcasts"

    @extend_schema(
        summary="A new stream key (broadcaster or staff); the old one is refused from now on",
        request=None,
        responses={200: s.BroadcastDetailSerializer, **error_responses(401, 403, 404)},
    )
    def post(self, request: Request, broadcast_id: int) -> Response:
        broadcast = video_services.stream_key_rotate(
            broadcast=broadcast_or_404(broadcast_id), actor=request.user
        )
        return Response(broadcast_detail(broadcast, request))


class TimelineView(APIView):
    throttle_scope = "broadcasts"

    @extend_schema(
        summary="The replay timeline: comments and reactions by broadcast time",
        description="Broadcast time is ms since the replay's start (`origin`). Removed comments "
        "are left out. Up to one hour per request; `next_from_ms` when the answer was cut.",
        parameters=[s.TimelineQuerySerializer],
        responses={200: s.TimelineSerializer, **error_responses(400, 404)},
    )
    def get(self, request: Request, broadcast_id: int) -> Response:
        query = validated(s.TimelineQuerySerializer, request.query_params)
        broadcast = broadcast_or_404(broadcast_id)
        return Response(timeline.broadcast_timeline(broadcast=broadcast, **query))


class LatencyView(APIView):
    throttle_scope = "viewers"

    def get_permissions(self) -> list[Any]:
        # Players report whether signed in or not; reading is for the broadcaster and staff.
        return [AllowAny()] if self.request.method == "POST" else super().get_permissions()

    @extend_schema(
        summary="The audience's latency behind the camera (broadcaster or staff)",
        responses={200: s.AudienceLatencySerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, broadcast_id: int) -> Response:
        broadcast = broadcast_or_404(broadcast_id)
        if not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        if not permissions.can_manage(broadcast=broadcast, actor=request.user):
            raise exceptions.PermissionDenied("Only the broadcaster or staff may see this.")
        return Response(latency.audience_latency(broadcast_id=broadcast.pk))

    @extend_schema(
        summary="A viewer's player reports its latency behind the camera (while live)",
        request=s.LatencyReportSerializer,
        responses={202: s.AcceptedSerializer, **error_responses(400, 404, 409)},
    )
    def post(self, request: Request, broadcast_id: int) -> Response:
        latency.latency_report(
            broadcast=broadcast_or_404(broadcast_id),
            **validated(s.LatencyReportSerializer, request.data),
        )
        return Response({"accepted": True}, status=status.HTTP_202_ACCEPTED)


class _TransitionView(APIView):
    """Moves a broadcast along scheduled -> live -> ended; subclasses name the service."""

    transition: Callable[..., Broadcast]
    throttle_scope = "broadcasts"

    @extend_schema(
        request=None,
        responses={200: s.BroadcastDetailSerializer, **error_responses(401, 403, 404, 409)},
    )
    def post(self, request: Request, broadcast_id: int) -> Response:
        broadcast = self.transition(broadcast=broadcast_or_404(broadcast_id), actor=request.user)
        return Response(broadcast_detail(broadcast, request))


@extend_schema_view(post=extend_schema(summary="Go live (broadcaster or staff)"))
class BroadcastStartView(_TransitionView):
    """scheduled -> live; 409 for a broadcast that is not scheduled."""

    transition = staticmethod(services.broadcast_start)


@extend_schema_view(post=extend_schema(summary="End a live broadcast (broadcaster or staff)"))
class BroadcastEndView(_TransitionView):
    """live -> ended; 409 for a broadcast that is not live."""

    transition = staticmethod(services.broadcast_end)


class CommentListView(APIView):
    pagination_class = CommentPagination
    throttle_scope = "comments"

    @extend_schema(
        summary="Visible comments, oldest first",
        responses={200: s.CommentSerializer(many=True), **error_responses(404)},
    )
    def get(self, request: Request, broadcast_id: int) -> Response:
        broadcast_or_404(broadcast_id)
        comments = selectors.comments_visible(broadcast_id=broadcast_id)
        return paginated(
            self, request, comments, lambda page: [selectors.comment_data(c) for c in page]
        )

    @extend_schema(
        summary="Comment on a live broadcast",
        request=s.CommentCreateSerializer,
        description="201 with the comment; 202 with `held: true` when a hold word keeps it "
        "for a moderator's review (nobody else sees it until approved).",
        responses={
            201: s.CommentSerializer,
            202: s.CommentHeldSerializer,
            **error_responses(400, 401, 403, 404, 409, 429),
        },
    )
    def post(self, request: Request, broadcast_id: int) -> Response:
        broadcast = broadcast_or_404(broadcast_id)
        abuse.address_rate_check(action="COMMENT", client=request_client_address(request))
        comment = services.comment_create(
            broadcast=broadcast,
            author=request.user,
            **validated(s.CommentCreateSerializer, request.data),
        )
        code, body = comment_answer(comment)
        return Response(body, status=code)


class CommentDetailView(APIView):
    throttle_scope = "comments"

    @extend_schema(
        summary="Remove a comment (its author, the broadcaster or staff)",
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request: Request, broadcast_id: int, comment_id: int) -> Response:
        comment = get_object_or_404(
            selectors.comments_not_removed(broadcast_id=broadcast_id), pk=comment_id
        )
        services.comment_remove(comment=comment, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReactionsView(APIView):
    throttle_scope = "reactions"

    @extend_schema(
        summary="Reaction totals",
        responses={200: s.ReactionTotalsSerializer, **error_responses(404)},
    )
    def get(self, request: Request, broadcast_id: int) -> Response:
        broadcast = broadcast_or_404(broadcast_id)
        return Response(selectors.reaction_totals(broadcast_id=broadcast.pk))

    @extend_schema(
        summary="React to a live broadcast",
        request=s.ReactionCreateSerializer,
        responses={202: s.AcceptedSerializer, **error_responses(400, 401, 403, 404, 409, 429)},
    )
    def post(self, request: Request, broadcast_id: int) -> Response:
        broadcast = broadcast_or_404(broadcast_id)
        abuse.address_rate_check(action="REACTION", client=request_client_address(request))
        services.reaction_create(
            broadcast=broadcast,
            user=request.user,
            **validated(s.ReactionCreateSerializer, request.data),
        )
        return Response({"accepted": True}, status=status.HTTP_202_ACCEPTED)


class ViewersView(APIView):
    throttle_scope = "viewers"

    @extend_schema(
        summary="People watching now",
        description="Each signed-in user counts once however many tabs they hold; anonymous "
        "viewers count once per client address (docs/presence.md). The same number as the "
        "stream's `viewers` event.",
        responses={200: s.ViewersSerializer, **error_responses(404)},
    )
    def get(self, request: Request, broadcast_id: int) -> Response:
        broadcast = broadcast_or_404(broadcast_id)
        return Response({"count": selectors.viewer_count(broadcast_id=broadcast.pk)})


_PRESENCE = {
    "type": "object",
    "description": "Keyed by user id (as a string).",
    "additionalProperties": {
        "type": "object",
        "properties": {
            "online": {"type": "boolean"},
            "last_seen": {"type": "string", "format": "date-time", "nullable": True},
        },
        "required": ["online", "last_seen"],
    },
}


class PresenceView(APIView):
    throttle_scope = "presence"

    @extend_schema(
        summary="Who is online",
        description="`last_seen` is to the minute, and null for anonymous callers.",
        parameters=[s.PresenceQuerySerializer],
        responses={200: OpenApiResponse(_PRESENCE), **error_responses(400)},
    )
    def get(self, request: Request) -> Response:
        user_ids = validated(s.PresenceQuerySerializer, request.query_params)["user_ids"]
        states = presence.users_presence(user_ids)
        # Whether someone is online is public (the watch page shows it to every viewer); when
        # they were last seen is for signed-in callers only, and to the minute, so that it
        # cannot be polled for everyone's exact comings and goings (docs/protocol.md).
        signed_in = request.user.is_authenticated
        return Response(
            {
                str(uid): {
                    "online": st["online"],
                    "last_seen": selectors.iso(_to_the_minute(st["last_seen"]))
                    if signed_in
                    else None,
                }
                for uid, st in states.items()
            }
        )


def _to_the_minute(moment: datetime | None) -> datetime | None:
    return moment.replace(second=0, microsecond=0) if moment is not None else None


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@permission_classes([AllowAny])
@schema(None)
def not_found(request: Request, path: str) -> Response:
    """Unknown paths under /api/ answer JSON too, not Django's HTML 404 page."""
    raise exceptions.NotFound("No such API endpoint (paths end with a slash).")
