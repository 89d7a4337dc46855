"""Input cleaning shared by the services."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from livevideo.errors import InvalidInput, WrongStatus
from livevideo.models import Broadcast, BroadcastStatus


def clean_text(value: str, *, field: str, max_length: int, required: bool) -> str:
    if not isinstance(value, str):
        raise InvalidInput("Must be a string.", field=field)
    if "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value):
        raise InvalidInput("Contains characters that are not allowed.", field=field)
    value = value.strip()
    if required and not value:
        raise InvalidInput("May not be blank.", field=field)
    if len(value) > max_length:
        raise InvalidInput(f"At most {max_length} characters.", field=field)
    return value


def clean_url(value: str) -> str:
    value = clean_text(value, field="stream_url", max_length=500, required=False)
    if value:
        try:
            URLValidator(schemes=["http", "https"])(value)
        except ValidationError as exc:
            raise InvalidInput("Enter a valid http(s) URL.", field="stream_url") from exc
    return value


def require_live(broadcast: Broadcast, what: str) -> None:
    if broadcast.status != BroadcastStatus.LIVE:
        raise WrongStatus(f"{what} only while the broadcast is live (it is {broadcast.status}).")
