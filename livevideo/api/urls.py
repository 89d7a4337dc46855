"""REST API URLs, under ``/api/``."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from livevideo.api import moderation, moderators, reviews, views

app_name = "api"

broadcast = "broadcasts/<id:broadcast_id>/"

urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("broadcasts/", views.BroadcastListView.as_view(), name="broadcast-list"),
    path(broadcast, views.BroadcastDetailView.as_view(), name="broadcast-detail"),
    path(f"{broadcast}start/", views.BroadcastStartView.as_view(), name="broadcast-start"),
    path(f"{broadcast}end/", views.BroadcastEndView.as_view(), name="broadcast-end"),
    path(f"{broadcast}stream-key/", views.StreamKeyView.as_view(), name="stream-key"),
    path(f"{broadcast}timeline/", views.TimelineView.as_view(), name="timeline"),
    path(f"{broadcast}latency/", views.LatencyView.as_view(), name="latency"),
    path(f"{broadcast}comments/", views.CommentListView.as_view(), name="comment-list"),
    path(
        f"{broadcast}comments/<id:comment_id>/",
        views.CommentDetailView.as_view(),
        name="comment-detail",
    ),
    path(
        f"{broadcast}comments/<id:comment_id>/report/",
        reviews.CommentReportView.as_view(),
        name="comment-report",
    ),
    path(f"{broadcast}review/", reviews.ReviewQueueView.as_view(), name="review-queue"),
    path(
        f"{broadcast}review/<id:comment_id>/approve/",
        reviews.ReviewApproveView.as_view(),
        name="review-approve",
    ),
    path(f"{broadcast}reactions/", views.ReactionsView.as_view(), name="reactions"),
    path(f"{broadcast}viewers/", views.ViewersView.as_view(), name="viewers"),
    path(
        f"{broadcast}moderation/",
        moderation.ModerationSettingsView.as_view(),
        name="moderation-settings",
    ),
    path(f"{broadcast}moderation/log/", moderation.AuditLogView.as_view(), name="audit-log"),
    path(f"{broadcast}bans/", moderation.BanListView.as_view(), name="ban-list"),
    path(f"{broadcast}bans/<id:user_id>/", moderation.BanDetailView.as_view(), name="ban-detail"),
    path(f"{broadcast}pinned/", moderation.PinnedCommentView.as_view(), name="pinned"),
    path(f"{broadcast}moderators/", moderators.ModeratorListView.as_view(), name="moderator-list"),
    path(
        f"{broadcast}moderators/<id:user_id>/",
        moderators.ModeratorDetailView.as_view(),
        name="moderator-detail",
    ),
    path(f"{broadcast}users/<id:user_id>/", moderators.UserCardView.as_view(), name="user-card"),
    path(f"{broadcast}watching/", moderators.WatchingView.as_view(), name="watching"),
    path("moderators/", moderators.StandingModeratorListView.as_view(), name="standing-list"),
    path(
        "moderators/<id:user_id>/",
        moderators.StandingModeratorDetailView.as_view(),
        name="standing-detail",
    ),
    path("presence/", views.PresenceView.as_view(), name="presence"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    re_path(r"^(?P<path>.*)$", views.not_found, name="not-found"),
]
