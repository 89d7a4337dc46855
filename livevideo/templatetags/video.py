"""Template filters for a broadcast's video (``{% load video %}``)."""

from __future__ import annotations

from django import template

from livevideo.models import Broadcast
from livevideo.video import selectors

register = template.Library()


@register.filter
def thumbnail_url(broadcast: Broadcast) -> str:
    """The broadcast's latest still, or "" when it has none."""
    return selectors.thumbnail_url(broadcast) or ""
