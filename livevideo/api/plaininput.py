"""The input of a REST write read without DRF's per-request objects, in the common case.

The write path (``livevideo.api.writepath``) reads a post as the DRF view would: the API's
parsers and the view's serializer. Most posts are a JSON object whose one field is valid
(``{"kind": "like"}``, ``{"text": "hello"}``), and for them those objects cost more than the
rest of the request's reading. ``plain_input`` reads such a post with ``json.loads`` and the
serializer field's own rules (read from the declared field, so one definition), and returns
what the serializer's ``validated_data`` would be; for anything else it returns None and the
caller reads the post with DRF, which answers what is wrong exactly as the view does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.validators import MaxLengthValidator, ProhibitNullCharactersValidator
from django.http import HttpRequest
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from livevideo.api.serializers import StrictCharField

Clean = Callable[[object], object | None]  # a field's internal value, or None: ask DRF


def plain_input(
    request: HttpRequest, serializer: type[serializers.Serializer], name: str
) -> dict[str, Any] | None:
    """The validated input of a post to ``serializer`` (whose one field is ``name``), or
    None if the post is not the plain case (DRF must read it)."""
    if request.content_type != "application/json" or not _utf8(request):
        return None
    try:
        parsed = json.loads(request.body.decode("utf-8"), parse_constant=_refuse)
    except (ValueError, RecursionError, SuspiciousOperation):
        return None
    if not isinstance(parsed, dict) or name not in parsed:
        return None
    value = _clean(serializer, name)(parsed[name])
    return None if value is None else {name: value}


def _utf8(request: HttpRequest) -> bool:
    charset = request.content_params.get("charset", settings.DEFAULT_CHARSET)
    return charset.lower() in ("utf-8", "utf8") and settings.DEFAULT_CHARSET.lower() == "utf-8"


def _refuse(constant: str) -> Any:
    """NaN and Infinity: DRF's strict parser answers 400 for them (and when it is not strict,
    it is DRF's to read them)."""
    raise ValueError(constant)


@cache
def _clean(serializer: type[serializers.Serializer], name: str) -> Clean:
    """The rules of the serializer's declared field ``name``, for the field classes the write
    path's serializers use; a field or serializer with rules of its own is left to DRF."""
    field = serializer._declared_fields[name]  # type: ignore[attr-defined]
    own_rules = (
        serializer.validate is not serializers.Serializer.validate
        or hasattr(serializer, f"validate_{name}")
        or getattr(getattr(serializer, "Meta", None), "validators", None)
        or any(type(v) not in _KNOWN_VALIDATORS for v in field.validators)
    )
    if own_rules:
        return _to_drf
    if type(field) is serializers.ChoiceField:
        return _choice(field)
    if type(field) is StrictCharField:
        return _strict_text(field)
    return _to_drf


# The validators DRF's CharField gives itself (what ``_strict_text`` checks).
_KNOWN_VALIDATORS = (
    MaxLengthValidator,
    ProhibitNullCharactersValidator,
    ProhibitSurrogateCharactersValidator,
)


def _to_drf(value: object) -> None:
    return None


def _choice(field: serializers.ChoiceField) -> Clean:
    """A choice given as one of its strings (DRF looks ``str(value)`` up)."""
    choices = field.choice_strings_to_values

    def clean(value: object) -> object | None:
        return choices[value] if isinstance(value, str) and value in choices else None

    return clean


def _strict_text(field: serializers.CharField) -> Clean:
    """A JSON string, trimmed, not blank, at most ``max_length`` characters, without NUL or
    a lone surrogate (DRF's ``CharField`` validators)."""
    if not field.trim_whitespace or field.allow_blank or field.min_length is not None:
        return _to_drf
    limit = field.max_length

    def clean(value: object) -> str | None:
        if not isinstance(value, str):
            return None
        text = value.strip()
        if not text or (limit is not None and len(text) > limit) or "\x00" in text:
            return None
        try:
            text.encode("utf-8")  # a lone surrogate cannot be
        except UnicodeEncodeError:
            return None
        return text

    return clean
