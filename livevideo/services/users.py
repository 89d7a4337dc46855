"""Accounts."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser


def user_create(
    *, username: str, password: str, display_name: str = "", is_staff: bool = False
) -> AbstractBaseUser:
    """A new account (already validated by the caller); the display name is its first name."""
    return get_user_model().objects.create_user(
        username=username, password=password, first_name=display_name.strip(), is_staff=is_staff
    )
