"""Page URLs (home, watch, studio, accounts)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from livevideo import views

urlpatterns = [
    path("", views.home, name="home"),
    path("broadcasts/<int:broadcast_id>/", views.watch, name="watch"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    # Django's LogoutView accepts POST only, so a link or an image cannot sign anyone out.
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", views.signup, name="signup"),
    path("studio/", views.studio, name="studio"),
    path("studio/new/", views.studio_broadcast_form, name="studio_new"),
    path("studio/<int:broadcast_id>/", views.studio_broadcast, name="studio_broadcast"),
    path("studio/<int:broadcast_id>/edit/", views.studio_broadcast_form, name="studio_edit"),
    path("studio/<int:broadcast_id>/start/", views.studio_start, name="studio_start"),
    path("studio/<int:broadcast_id>/end/", views.studio_end, name="studio_end"),
    path(
        "studio/<int:broadcast_id>/comments/<int:comment_id>/remove/",
        views.studio_comment_remove,
        name="studio_comment_remove",
    ),
]
