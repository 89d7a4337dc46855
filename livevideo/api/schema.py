"""Serializers for the OpenAPI schema, derived from the shapes in ``livevideo.shapes``.

They describe what the selectors build and are never used to render, so a shape is written
once (in ``livevideo.shapes``) and the schema cannot drift from it.
"""

from __future__ import annotations

import functools
import types
from typing import (
    Annotated,
    Any,
    Literal,
    NotRequired,
    Union,
    get_args,
    get_origin,
    get_type_hints,
    is_typeddict,
)

from rest_framework import serializers

from livevideo.shapes import Doc

_SCALARS: dict[type, type[serializers.Field]] = {
    int: serializers.IntegerField,
    str: serializers.CharField,
    bool: serializers.BooleanField,
}


@functools.cache
def serializer_for(shape: type) -> type[serializers.Serializer]:
    """A schema-only serializer named after ``shape`` (a TypedDict): ``Ban`` gives
    ``BanSerializer``, the schema's ``Ban`` component, and ``CommentData`` (named apart from
    the model) ``CommentSerializer``, the ``Comment`` component."""
    hints = get_type_hints(shape, include_extras=True)
    fields = {name: _field(hint) for name, hint in hints.items()}
    attrs: dict[str, Any] = {**fields, "__module__": __name__}
    return type(f"{component_name(shape)}Serializer", (serializers.Serializer,), attrs)


def component_name(shape: type) -> str:
    """The schema component that describes ``shape``."""
    return shape.__name__.removesuffix("Data")


def _field(hint: Any, **options: Any) -> serializers.Field:
    """The serializer field that describes one TypedDict field (or a list's or dict's item)."""
    if get_origin(hint) is NotRequired:
        options["required"] = False
        [hint] = get_args(hint)
    hint, doc = _annotation(hint)
    if get_origin(hint) in (Union, types.UnionType):
        options["allow_null"] = True
        [hint] = [arg for arg in get_args(hint) if arg is not type(None)]
        hint, inner = _annotation(hint)
        doc = inner if doc == Doc() else doc
    if doc.help_text:
        options["help_text"] = doc.help_text
    if doc.min_value is not None:
        options["min_value"] = doc.min_value
    if doc.allow_blank:
        options["allow_blank"] = True
    if doc.choices is not None:
        return serializers.ChoiceField(choices=doc.choices.choices, **options)
    if doc.time:
        return serializers.DateTimeField(**options)
    return _typed_field(hint, options)


def _typed_field(hint: Any, options: dict[str, Any]) -> serializers.Field:
    """The field for a plain type: a scalar, a ``Literal``, a list, a dict or a shape."""
    origin = get_origin(hint)
    if origin is Literal:
        return serializers.ChoiceField(choices=list(get_args(hint)), **options)
    if origin is list:
        [item] = get_args(hint)
        if is_typeddict(item):
            return serializer_for(item)(many=True, **options)
        return serializers.ListField(child=_field(item), **options)
    if origin is dict:
        _, value = get_args(hint)
        return serializers.DictField(child=_field(value), **options)
    if hint in _SCALARS:
        return _SCALARS[hint](**options)
    return serializer_for(hint)(**options)


def _annotation(hint: Any) -> tuple[Any, Doc]:
    """``Annotated[T, Doc(...)]`` -> ``(T, Doc(...))``; a plain ``T`` -> ``(T, Doc())``."""
    if get_origin(hint) is Annotated:
        base, *extras = get_args(hint)
        docs = [extra for extra in extras if isinstance(extra, Doc)]
        return base, docs[0] if docs else Doc()
    return hint, Doc()
