"""Channels' routers, holding nothing per connection.

An ASGI application's call lasts as long as its connection, and so does every call that awaits
it: Channels' ``ProtocolTypeRouter`` and ``URLRouter`` await the application they route to, so
each keeps a coroutine for every open stream, and ``URLRouter`` a copy of the scope as well
(with ``path_remaining`` and ``url_route``). A server holding tens of thousands of idle
streams holds that many of each (what it came to: docs/performance.md).

These route as Channels' do, but are plain functions that return the routed application's
call for the server to await: no coroutine of their own, and ``URLRouter`` puts
``path_remaining`` and ``url_route`` in the scope it was given instead of a copy (as
``realtime.auth`` puts the user). They are marked as coroutine functions, so that servers and
test communicators take them for single-callable ASGI applications, as they do Channels'.
This ``URLRouter`` is the outermost router (a Channels ``URLRouter`` may be routed to: it
routes what this one leaves in ``path_remaining``).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from asgiref.sync import markcoroutinefunction
from channels import routing


class ProtocolTypeRouter(routing.ProtocolTypeRouter):
    """The application for each scope type (``"http"``, ``"websocket"``, ``"lifespan"``)."""

    @markcoroutinefunction
    def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
        application = self.application_mapping.get(scope["type"])
        if application is None:
            raise ValueError(f"No application configured for scope type {scope['type']!r}")
        return application(scope, receive, send)


class URLRouter(routing.URLRouter):
    """The application of the first route matching the path; its captured parameters in
    ``scope["url_route"]`` (``args``, ``kwargs``), as Channels' router gives them."""

    @markcoroutinefunction
    def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
        path = scope.get("path")
        if path is None:
            raise ValueError("No 'path' key in connection scope, cannot route URLs")
        root_path = scope.get("root_path", "")
        if root_path and not path.startswith(root_path):
            raise ValueError(f"No route found for path {path!r}.")
        path = path[len(root_path) :].lstrip("/")  # Django's patterns have no leading /
        for route in self.routes:
            match = route.pattern.match(path)
            if match:
                remaining, args, kwargs = match
                scope["path_remaining"] = remaining
                scope["url_route"] = {"args": args, "kwargs": {**kwargs, **route.default_args}}
                return route.callback(scope, receive, send)
        raise ValueError(f"No route found for path {path!r}.")
