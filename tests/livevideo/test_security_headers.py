"""Content-Security-Policy and Permissions-Policy on the pages (issue 15, item 7)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.factories import BroadcastFactory

pytestmark = pytest.mark.django_db


def directives(header: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in header.split(";") if d.strip()}


def test_the_watch_page_allows_what_it_uses_and_nothing_else():
    broadcast = BroadcastFactory(live=True)
    response = Client().get(f"/broadcasts/{broadcast.pk}/")
    policy = directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "blob:" in policy["media-src"]
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    inline = re.findall(rb'<script type="module" nonce="([^"]+)">', response.content)
    assert inline == [nonce.encode()]  # the page's one inline script carries it


def test_media_sources_are_a_setting(settings):
    settings.CONTENT_SECURITY_POLICY = {
        **settings.CONTENT_SECURITY_POLICY,
        "DIRECTIVES": {
            **settings.CONTENT_SECURITY_POLICY["DIRECTIVES"],
            "media-src": ["'self'", "blob:", "https://media.example.com"],
        },
    }
    policy = directives(Client().get("/")["Content-Security-Policy"])
    assert policy["media-src"] == ["'self'", "blob:", "https://media.example.com"]


def test_permissions_policy_turns_off_what_the_pages_do_not_use():
    header = Client().get("/")["Permissions-Policy"]
    assert "camera=()" in header
    assert "microphone=()" in header
    assert "geolocation=()" in header
    assert "fullscreen=(self)" in header
