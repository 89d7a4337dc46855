"""The common REST write read without DRF's objects (``livevideo.api.plaininput``): for every
body it reads, what the view's serializer would have validated; anything else left to DRF."""

from __future__ import annotations

import json

import pytest
from django.test import RequestFactory
from rest_framework.request import Request

from livevideo.api import serializers as s
from livevideo.api.parsers import BoundedJSONParser
from livevideo.api.plaininput import plain_input

TEXTS = ["hello", "  padded  ", "", "   ", "x" * 500, " " + "x" * 500 + " ", "x" * 501, "a\x00b"]
TEXTS += ["\ud800", "é ü 漢字 🎉", "\u2028", 5, 5.0, True, None, ["hi"], {"t": "hi"}]
KINDS = ["like", "funny", "Like", "", " like", "meh", 1, None, ["like"], True]


def _request(body: bytes, content_type: str = "application/json"):
    return RequestFactory().post("/", data=body, content_type=content_type)


def _drf(serializer, body: bytes, content_type: str = "application/json"):
    """The serializer's validated data, as the DRF view reads the body, or None if refused."""
    request = Request(_request(body, content_type), parsers=[BoundedJSONParser()])
    try:
        checked = serializer(data=request.data)
    except Exception:  # a parse error
        return None
    return dict(checked.validated_data) if checked.is_valid() else None


@pytest.mark.parametrize(
    ("serializer", "name", "values"),
    [(s.CommentCreateSerializer, "text", TEXTS), (s.ReactionCreateSerializer, "kind", KINDS)],
)
def test_what_it_reads_is_what_the_serializer_validates(serializer, name, values):
    read = 0
    for value in values:
        body = json.dumps({name: value, "other": 1}).encode()
        plain = plain_input(_request(body), serializer, name)
        if plain is not None:
            read += 1
            assert plain == _drf(serializer, body), value
    assert read >= 2  # the plain cases are read here, not all left to DRF


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"kind": "like"', "application/json"),  # malformed
        (b'["like"]', "application/json"),  # not an object
        (b"{}", "application/json"),  # the field missing
        (b'{"kind": "like", "n": NaN}', "application/json"),  # DRF's strict parser refuses
        (b'{"kind": "like"}', "text/plain"),
        (b'{"kind": "like"}', "application/json; charset=latin-1"),
        (b"kind=like", "application/x-www-form-urlencoded"),
        (b"", "application/json"),
    ],
)
def test_anything_but_the_plain_case_is_left_to_drf(body, content_type):
    assert plain_input(_request(body, content_type), s.ReactionCreateSerializer, "kind") is None


def test_the_plain_case_with_a_charset():
    request = _request(b'{"kind": "love"}', "application/json; charset=UTF-8")
    assert plain_input(request, s.ReactionCreateSerializer, "kind") == {"kind": "love"}
