"""The routers route as Channels' do, and hand back the routed application's call instead of
awaiting it: nothing of theirs stays alive with the connection."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.compatibility import guarantee_single_callable
from django.urls import path, re_path

from realtime.auth import TokenOrSessionAuthMiddleware
from realtime.origin import SameOriginValidator
from realtime.routing import ProtocolTypeRouter, URLRouter
from tests.realtime.consumers.topicconsumer import TopicConsumer
from tests.realtime.streamtools import WSClient


class Recorder:
    """An ASGI application that notes the scope it was called with and returns a marker."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []
        self.returned = object()  # stands for the application's call

    def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        self.scopes.append(scope)
        return self.returned


@pytest.fixture
def inner():
    return Recorder()


def test_the_router_hands_back_the_routed_call_with_the_captured_parameters(inner):
    router = URLRouter(
        [path("ws/<int:number>/<str:name>/", inner, kwargs={"extra": 1}), re_path(r"", Recorder())]
    )
    scope = {"type": "websocket", "path": "/ws/7/seven/"}
    assert router(scope, None, None) is inner.returned
    assert inner.scopes == [scope]  # the scope it was given, not a copy
    assert scope["url_route"] == {"args": (), "kwargs": {"number": 7, "name": "seven", "extra": 1}}


def test_the_first_matching_route_wins_and_a_catch_all_takes_the_rest(inner):
    first = Recorder()
    router = URLRouter([path("sse/<int:number>/", first), re_path(r"", inner)])
    scope = {"type": "http", "path": "/api/broadcasts/"}
    assert router(scope, None, None) is inner.returned
    assert first.scopes == []


def test_the_root_path_is_not_part_of_the_route(inner):
    router = URLRouter([path("ws/<int:number>/", inner)])
    scope = {"type": "websocket", "path": "/live/ws/3/", "root_path": "/live"}
    router(scope, None, None)
    assert scope["url_route"]["kwargs"] == {"number": 3}


def test_a_path_no_route_matches_is_refused(inner):
    router = URLRouter([path("ws/<int:number>/", inner)])
    with pytest.raises(ValueError, match="No route found"):
        router({"type": "websocket", "path": "/ws/x/"}, None, None)
    assert inner.scopes == []


def test_the_protocol_router_hands_back_the_call_for_the_scope_type(inner):
    router = ProtocolTypeRouter({"websocket": inner})
    assert router({"type": "websocket"}, None, None) is inner.returned
    with pytest.raises(ValueError, match="No application configured for scope type 'http'"):
        router({"type": "http"}, None, None)


def test_servers_take_the_routers_for_single_callable_asgi_applications(inner):
    # uvicorn asks asyncio whether __call__ is a coroutine function (else it would wrap the
    # application as ASGI 2); daphne and Channels' test communicators ask asgiref.
    for router in (ProtocolTypeRouter({}), URLRouter([])):
        assert asyncio.iscoroutinefunction(router.__call__)
        assert guarantee_single_callable(router) is router


class WhoConsumer(TopicConsumer):
    async def get_hello_data(self) -> dict[str, Any]:
        return {"name": self.route_kwargs["name"], "anonymous": self.user.is_anonymous}


async def test_the_routed_consumer_gets_its_route_and_its_user_from_the_scope(db):
    """Through the production WebSocket stack (the Origin check, authentication, routing),
    the consumer finds the URL's parameters and the user in the scope it was made with."""
    application = ProtocolTypeRouter(
        {
            "websocket": SameOriginValidator(
                TokenOrSessionAuthMiddleware(
                    URLRouter([path("t/<str:name>/", WhoConsumer.as_asgi())])
                )
            )
        }
    )
    client = WSClient("/t/routed/", application=application)
    hello = (await client.connect())[0]
    assert hello["type"] == "hello"
    assert hello["data"]["name"] == "routed"
    assert hello["data"]["anonymous"] is True
    await client.communicator.disconnect()
