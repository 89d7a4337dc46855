"""Django's ASGI handler, running each request's middleware and view in one pooled thread.

Under an ASGI server Django runs a request to a sync view with about a dozen round trips between
the event loop and a thread (its built-in middleware are "async-capable" by wrapping each
``process_request``/``process_response`` in ``sync_to_async``), in a new thread per request (its
``ThreadSensitiveContext``). Starting that thread blocks the loop until the thread gets the GIL,
and with a loop busy fanning out frames every hand-over waits for it (profiled and measured
before and after this handler: docs/performance.md).

Here the middleware chain is built as under WSGI (sync) and runs whole, view included, in one
call on the loop's thread pool, as a threaded WSGI server runs it; as there, the thread's
database connections are checked before and after (``close_old_connections``). Django's few
other hops per request (the ``request_started`` signal, closing the response) go to one thread
kept for them: not a new thread each, and not the thread that runs the WebSocket consumers'
database work (``database_sync_to_async``), which under load is busy storing reactions.

The SSE stream does not come through here: it is a plain ASGI endpoint routed ahead of this
handler (``livevideo.asgi``), as the WebSocket consumer is, so a stream's connect and close
cost no hand-over to a thread. (An async view would still work: Django calls it from the
chain with ``async_to_sync``, which hands it to the loop.)
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponseBase


class OneHopASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self._hops = ThreadPoolExecutor(max_workers=1, thread_name_prefix="django-hops")

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        async with ThreadSensitiveContext(executor=self._hops):
            await self.handle(scope, receive, send)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self._respond, thread_sensitive=False)(request)

    def _respond(self, request: HttpRequest) -> HttpResponseBase:
        close_old_connections()
        try:
            return self.get_response(request)
        finally:
            close_old_connections()


def get_asgi_application() -> OneHopASGIHandler:
    """Like ``django.core.asgi.get_asgi_application``, with ``OneHopASGIHandler``."""
    import django

    django.setup(set_prefix=False)
    return OneHopASGIHandler()
