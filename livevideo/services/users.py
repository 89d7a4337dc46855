"""Accounts."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group

from livevideo import selectors


def user_create(
    *, username: str, password: str, display_name: str = "", is_staff: bool = False
) -> AbstractBaseUser:
    """A new account (already validated by the caller); the display name is its first name."""
    return get_user_model().objects.create_user(
        username=username, password=password, first_name=display_name.strip(), is_staff=is_staff
    )


def broadcaster_grant(*, user: AbstractBaseUser) -> None:
    """Let ``user`` create broadcasts (the ``broadcasters`` group; staff do the same in the
    admin). A staff account in the group is narrowed to its own broadcasts there."""
    group, _ = Group.objects.get_or_create(name=selectors.BROADCASTERS_GROUP)
    user.groups.add(group)
    user.__dict__.pop("_livevideo_platform_staff", None)
