"""Page URLs (home, watch, studio, accounts)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from livevideo import studio_views, views
from livevideo.forms import SignInForm

# Moderation from the studio: one comment, or one user, of a broadcast.
comment = "studio/<id:broadcast_id>/comments/<id:comment_id>/"
user = "studio/<id:broadcast_id>/users/<id:user_id>/"

urlpatterns = [
    path("", views.home, name="home"),
    path("broadcasts/<id:broadcast_id>/", views.watch, name="watch"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=SignInForm),
        name="login",
    ),
    # Django's LogoutView accepts POST only, so a link or an image cannot sign anyone out.
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", views.signup, name="signup"),
    path("studio/", studio_views.studio, name="studio"),
    path("studio/new/", studio_views.studio_broadcast_form, name="studio_new"),
    path("studio/<id:broadcast_id>/", studio_views.studio_broadcast, name="studio_broadcast"),
    path("studio/<id:broadcast_id>/edit/", studio_views.studio_broadcast_form, name="studio_edit"),
    path("studio/<id:broadcast_id>/start/", studio_views.studio_start, name="studio_start"),
    path("studio/<id:broadcast_id>/end/", studio_views.studio_end, name="studio_end"),
    path(
        "studio/<id:broadcast_id>/stream-key/",
        studio_views.studio_stream_key,
        name="studio_stream_key",
    ),
    path(f"{comment}remove/", studio_views.studio_comment_remove, name="studio_comment_remove"),
    path(f"{comment}pin/", studio_views.studio_comment_pin, name="studio_comment_pin"),
    path("studio/<id:broadcast_id>/unpin/", studio_views.studio_unpin, name="studio_unpin"),
    path(f"{user}timeout/", studio_views.studio_user_timeout, name="studio_user_timeout"),
    path(f"{user}ban/", studio_views.studio_user_ban, name="studio_user_ban"),
    path(f"{user}unban/", studio_views.studio_user_unban, name="studio_user_unban"),
    path(
        "studio/<id:broadcast_id>/moderators/",
        studio_views.studio_moderator_add,
        name="studio_moderator_add",
    ),
    path(
        f"{user}moderator/remove/",
        studio_views.studio_moderator_remove,
        name="studio_moderator_remove",
    ),
    path(
        "studio/<id:broadcast_id>/moderation/",
        studio_views.studio_moderation_settings,
        name="studio_moderation_settings",
    ),
]
