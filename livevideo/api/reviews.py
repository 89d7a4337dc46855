"""Reports and the review queue: any signed-in viewer reports a comment; the broadcast's
moderators read the queue (held and reported comments) and approve or remove each one
(removing is ``DELETE .../comments/<cid>/``)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from livevideo import selectors, services, shapes
from livevideo.api.moderation import ModerationView, moderated_broadcast
from livevideo.api.schema import serializer_for
from livevideo.api.serializers import AcceptedSerializer, CommentSerializer
from livevideo.api.views import broadcast_or_404, error_responses
from livevideo.models import Comment

ReviewItemSerializer = serializer_for(shapes.ReviewItem)


def _comment(broadcast_id: int, comment_id: int) -> Comment:
    broadcast_or_404(broadcast_id)
    return get_object_or_404(
        selectors.comments_not_removed(broadcast_id=broadcast_id), pk=comment_id
    )


class CommentReportView(ModerationView):
    @extend_schema(
        summary="Report a comment to the moderators",
        request=None,
        responses={202: AcceptedSerializer, **error_responses(400, 401, 404)},
    )
    def post(self, request: Request, broadcast_id: int, comment_id: int) -> Response:
        comment = _comment(broadcast_id, comment_id)
        services.comment_report(comment=comment, reporter=request.user)
        return Response({"accepted": True}, status=status.HTTP_202_ACCEPTED)


class ReviewQueueView(ModerationView):
    @extend_schema(
        summary="The review queue: held and reported comments, oldest first (moderators)",
        responses={200: ReviewItemSerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, broadcast_id: int) -> Response:
        broadcast = moderated_broadcast(request, broadcast_id)
        queue = selectors.review_queue(broadcast_id=broadcast.pk)
        return Response([selectors.review_data(c) for c in queue])


class ReviewApproveView(ModerationView):
    @extend_schema(
        summary="Approve a comment: a held one appears for everyone; reports are cleared",
        request=None,
        responses={200: CommentSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, broadcast_id: int, comment_id: int) -> Response:
        comment = _comment(broadcast_id, comment_id)
        services.comment_approve(comment=comment, actor=request.user)
        return Response(selectors.comment_data(comment))
