"""REST reactions and comments answered on the event loop (``livevideo.api.writepath``): the
same answers as the DRF views, for every refusal."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import AbstractBaseUser
from rest_framework.authtoken.models import Token

from livevideo import services
from livevideo.models import Broadcast, Comment, Reaction
from tests.factories import BroadcastFactory, UserFactory
from tests.livevideo.api.writepath import post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_realtime")]

run = database_sync_to_async
COMPARED_HEADERS = ("content-type", "www-authenticate", "retry-after", "allow")


@pytest.fixture
def live() -> Broadcast:
    return BroadcastFactory(live=True)


@pytest.fixture
def viewer() -> AbstractBaseUser:
    return UserFactory(username="vera")


@pytest.fixture
def token(viewer) -> Token:
    return Token.objects.create(user=viewer)


def reactions(broadcast) -> str:
    return f"/api/broadcasts/{broadcast.pk}/reactions/"


def comments(broadcast) -> str:
    return f"/api/broadcasts/{broadcast.pk}/comments/"


async def both(path: str, body=None, **kwargs):
    """The answer of the endpoint, and of the DRF view, to the same request."""
    return await post(path, body, **kwargs), await post(path, body, django=True, **kwargs)


def assert_same(ours, drf) -> None:
    assert (ours.status, ours.json()) == (drf.status, drf.json())
    for name in COMPARED_HEADERS:
        assert ours.headers.get(name) == drf.headers.get(name), name


async def test_a_reaction_is_accepted_once_stored(live, token):
    ours, drf = await both(reactions(live), {"kind": "like"}, token=token)
    assert_same(ours, drf)
    assert ours.status == 202
    assert await run(Reaction.objects.filter(broadcast=live).count)() == 2


async def test_a_comment_is_answered_with_its_stored_row(live, token):
    ours = await post(comments(live), {"text": "  hello  "}, token=token)
    drf = await post(comments(live), {"text": "and again"}, token=token, django=True)
    assert (ours.status, drf.status) == (201, 201)
    stored = await run(Comment.objects.get)(pk=ours.json()["id"])
    assert (stored.text, stored.author_id) == ("hello", token.user_id)
    assert ours.json().keys() == drf.json().keys()
    assert ours.json()["created_at"] < drf.json()["created_at"]


@pytest.mark.parametrize(
    "case",
    [
        "anonymous",
        "unknown token",
        "bad json",
        "not an object",
        "unknown kind",
        "form body",
        "unsupported media type",
        "no such broadcast",
        "ended",
    ],
)
async def test_refusals_are_the_drf_views(case, live, token, viewer):
    path, body, kwargs = reactions(live), {"kind": "like"}, {"token": token}
    if case == "anonymous":
        kwargs = {}
    elif case == "unknown token":
        kwargs = {"token": Token(key="0" * 40)}
    elif case == "bad json":
        kwargs["raw"] = b'{"kind": '
    elif case == "not an object":
        body = ["like"]
    elif case == "unknown kind":
        body = {"kind": "meh"}
    elif case == "form body":
        kwargs.update(raw=b"kind=nope", content_type="application/x-www-form-urlencoded")
    elif case == "unsupported media type":
        kwargs.update(raw=b"kind", content_type="text/plain")
    elif case == "no such broadcast":
        path = "/api/broadcasts/999999/reactions/"
    elif case == "ended":
        path = reactions(await run(BroadcastFactory)(ended=True))
    assert_same(*await both(path, body, **kwargs))
    assert not await run(Reaction.objects.exists)()


@pytest.mark.parametrize("text", ["", "x" * 501, 5, "see www.example.com"])
async def test_comment_refusals_are_the_drf_views(live, token, text):
    assert_same(*await both(comments(live), {"text": text}, token=token))


async def test_banned_and_timed_out_users_are_refused_as_by_the_drf_view(live, token, viewer):
    await run(services.user_ban)(broadcast=live, actor=live.broadcaster, user=viewer)
    ours, drf = await both(reactions(live), {"kind": "like"}, token=token)
    assert_same(ours, drf)
    assert ours.status == 403


async def test_a_repeated_comment_and_the_rate_limit_as_by_the_drf_view(live, token, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "COMMENT": (2, 60.0)}
    first = await post(comments(live), {"text": "same"}, token=token)
    assert first.status == 201
    assert_same(*await both(comments(live), {"text": "same"}, token=token))  # repeats
    await post(comments(live), {"text": "other"}, token=token)
    ours, drf = await both(comments(live), {"text": "third"}, token=token)
    assert_same(ours, drf)
    assert ours.status == 429


async def test_a_session_needs_its_csrf_token_as_with_the_drf_view(live, viewer, client):
    await run(client.force_login)(viewer)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    ours, drf = await both(reactions(live), {"kind": "like"}, headers={"cookie": cookie})
    assert_same(ours, drf)
    assert ours.status == 403
    assert "CSRF" in ours.json()["detail"]


async def test_what_it_does_not_answer_goes_to_the_drf_view(live, token):
    browsable = await post(
        reactions(live), {"kind": "like"}, token=token, headers={"accept": "text/html"}
    )
    formatted = await post(reactions(live) + "?format=json", {"kind": "like"}, token=token)
    malformed = await post(
        reactions(live), {"kind": "like"}, headers={"authorization": "Token a b"}
    )
    assert (browsable.status, formatted.status) == (202, 202)
    assert "text/html" in browsable.headers["content-type"]
    assert malformed.status == 401
    assert "spaces" in malformed.json()["detail"]


async def test_a_stored_post_is_answered_with_the_headers_of_the_first(live, token, settings):
    first = await post(reactions(live), {"kind": "like"}, token=token)
    again = await post(reactions(live), {"kind": "love"}, token=token)
    assert first.headers == again.headers
    assert (first.headers["x-frame-options"], first.headers["vary"]) == ("DENY", "Accept, Cookie")
    settings.X_FRAME_OPTIONS = "SAMEORIGIN"  # a changed setting is in the next answer
    changed = await post(reactions(live), {"kind": "like"}, token=token)
    assert changed.headers == {**first.headers, "x-frame-options": "SAMEORIGIN"}
