"""``POST /api/broadcasts/<id>/reactions/`` and ``.../comments/`` answered on the event loop,
their writes stored in batches.

Through Django's handler a REST write costs the middleware chain, DRF, and five to ten
database and Redis round trips of its own in a pooled thread that waits for the GIL behind the
fan-out (docs/performance.md). This ASGI endpoint is routed ahead of the handler
(``livevideo.asgi``), as the SSE stream is. It reads the request on the loop with Django's and
DRF's own code (Host check, HTTPS redirect, the API's body parsers and the view's serializer,
DRF's CSRF check for a session; the common body, a JSON object with a valid field, by the
serializer field's rules without DRF's objects: ``livevideo.api.plaininput``), hands the post
to the broadcast's batcher (``livevideo.ingest.Batcher``; the checks and the write:
``livevideo.api.writes``), and answers once its batch has committed (a 201 means stored, with
the comment's id), rendered by DRF's exception handler and renderer as the view would be (a
success with the headers the first one had, which depend only on the scheme and settings).

What it would not answer exactly as the DRF view does goes to Django unchanged: other paths
and methods, a query string (``?format=``), an ``Accept`` asking for HTML or anything but JSON,
a malformed ``Authorization: Token`` header, a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, DRF
throttling turned on, a Host not allowed, plain HTTP under ``SECURE_SSL_REDIRECT``. The DRF
views stay the documented (OpenAPI) contract and the path of the Django test client.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost, SuspiciousOperation
from django.core.handlers.asgi import ASGIRequest
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.middleware.security import SecurityMiddleware
from rest_framework import exceptions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.mediatypes import media_type_matches

from livevideo.api import serializers as s
from livevideo.api import writes
from livevideo.api.errors import exception_handler, translate
from livevideo.api.plaininput import plain_input
from livevideo.conf import write_path_config
from livevideo.converters import IdConverter
from livevideo.ingest import Record, batcher_for
from livevideo.middleware import database_unavailable
from realtime.clientaddress import scope_client_address
from realtime.sse import add_django_headers, response_start

logger = logging.getLogger(__name__)

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
ROUTE = re.compile(rf"^/api/broadcasts/({IdConverter.regex})/(comments|reactions)/$")
ALLOW = "GET, POST, HEAD, OPTIONS"  # what the DRF views of both paths allow


@dataclass(frozen=True, slots=True)
class _Write:
    serializer: type[serializers.Serializer]
    field: str
    record: Record


WRITES = {
    "comments": _Write(s.CommentCreateSerializer, "text", writes.record_comments),
    "reactions": _Write(s.ReactionCreateSerializer, "kind", writes.record_reactions),
}


class RestWrites:
    """ASGI middleware: the two write paths answered here, everything else by ``django``."""

    def __init__(self, django: ASGIApp) -> None:
        self.django = django

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        route = _route(scope)
        if route is None:
            return await self.django(scope, receive, send)
        broadcast_id, write = route
        body, whole = await _read_body(scope, receive)
        if body is None:  # the client went away
            return None
        request = ASGIRequest(scope, io.BytesIO(body))
        post = _read_post(request, write) if whole else None
        if post is None:
            return await self.django(scope, _replay(body, not whole, receive), send)
        batcher = batcher_for(broadcast_id, write.record, write_path_config().rest_batch_gap)
        try:
            outcome = await batcher.submit(post)
        except Exception as exc:
            response = database_unavailable(request, exc) or _refusal(exc)
        else:
            if not isinstance(outcome, Exception):
                await _send_success(request, send, *_success(outcome))
                return None
            response = _refusal(outcome)
        add_django_headers(request, response)
        response["Content-Length"] = str(len(response.content))
        await send(response_start(response))
        await send({"type": "http.response.body", "body": response.content})
        return None


def _route(scope: dict[str, Any]) -> tuple[int, _Write] | None:
    """The broadcast and write of a POST this endpoint answers, else None."""
    if scope["type"] != "http" or scope["method"] != "POST" or scope.get("query_string"):
        return None
    match = ROUTE.match(scope["path"])
    if match is None or api_settings.DEFAULT_THROTTLE_CLASSES:
        return None
    try:
        return IdConverter().to_python(match[1]), WRITES[match[2]]
    except ValueError:
        return None


async def _read_body(scope: dict[str, Any], receive: Any) -> tuple[bytes | None, bool]:
    """The body (None if the client left), and whether it is whole: reading stops past
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (Django then answers the request, with what was read)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or float("inf")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None, False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body"):
            return b"".join(chunks), True
        if size > limit:
            return b"".join(chunks), False


def _replay(body: bytes, more: bool, receive: Any) -> Callable[[], Awaitable[dict[str, Any]]]:
    """``receive`` for Django, starting with the body already read."""
    pending = [{"type": "http.request", "body": body, "more_body": more}]

    async def replayed() -> dict[str, Any]:
        return pending.pop() if pending else await receive()

    return replayed


def _read_post(request: ASGIRequest, write: _Write) -> writes.Post | None:
    """The post as the DRF view would read it, or None for one Django must answer."""
    accept = request.META.get("HTTP_ACCEPT", "")  # as DRF reads it (not the headers' dict)
    if accept and not any(
        media_type_matches("application/json", part.strip()) for part in accept.split(",")
    ):
        return None
    if "text/html" in accept:  # the browsable API
        return None
    try:
        request.get_host()
    except DisallowedHost:
        return None
    if settings.SECURE_SSL_REDIRECT and SecurityMiddleware(_no_view).process_request(request):
        return None  # an HTTPS redirect (the middleware is made only when it may redirect)
    auth = request.META.get("HTTP_AUTHORIZATION", "").split()  # as DRF's TokenAuthentication
    if auth and auth[0].lower() == "token" and (len(auth) != 2 or not auth[1].isascii()):
        return None  # DRF's own 401 for a malformed token header
    post = _credential(request, auth[1] if auth and auth[0].lower() == "token" else None)
    data = plain_input(request, write.serializer, write.field)
    if data is not None:  # the common case, read without DRF's objects
        return writes.Post(**post, data=data)
    try:
        serializer = write.serializer(data=Request(request, parsers=_parsers()).data)
        serializer.is_valid(raise_exception=True)
    except (exceptions.APIException, SuspiciousOperation) as exc:
        return writes.Post(**post, invalid=translate(exc))
    return writes.Post(**post, data=dict(serializer.validated_data))


def _credential(request: ASGIRequest, token: str | None) -> dict[str, Any]:
    """Who asks (DRF tries the token first, then the session, whose CSRF check is made here
    and applied in the batch once the session is known to be signed in), and from where."""
    found: dict[str, Any] = {"address": scope_client_address(request.scope)}
    if token is not None:
        return {**found, "token": token}
    session = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if session:
        found["session"] = session
        try:
            SessionAuthentication().enforce_csrf(request)  # type: ignore[arg-type]
        except exceptions.PermissionDenied as exc:
            found["csrf_refusal"] = exc
    return found


def _parsers() -> list[Any]:
    return [parser() for parser in api_settings.DEFAULT_PARSER_CLASSES]


def _success(outcome: Any) -> tuple[int, Any]:
    """The status and data a stored post is answered with."""
    if outcome == writes.ACCEPTED:
        return 202, {"accepted": True}
    return writes.comment_answer(outcome)


async def _send_success(request: ASGIRequest, send: Any, status: int, data: Any) -> None:
    """Answer a stored post: its data rendered by DRF's JSON renderer, with the headers the
    first such answer had (``_success_headers``)."""
    body = JSONRenderer().render(data)
    headers = _success_headers(request, status)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"Content-Length", str(len(body)).encode("ascii"))],
        }
    )
    await send({"type": "http.response.body", "body": body})


# The headers of a successful answer by status and scheme: made the full way once (DRF's
# response and renderer, Django's middleware, as for a refusal), since they depend on nothing
# else of the request; forgotten when a setting changes.
_SUCCESS_HEADERS: dict[tuple[int, bool], list[tuple[bytes, bytes]]] = {}


def _success_headers(request: ASGIRequest, status: int) -> list[tuple[bytes, bytes]]:
    key = (status, request.is_secure())
    headers = _SUCCESS_HEADERS.get(key)
    if headers is None:
        response = _rendered(Response({}, status=status))
        add_django_headers(request, response)
        headers = _SUCCESS_HEADERS[key] = response_start(response)["headers"]
    return headers


@receiver(setting_changed)
def _forget_success_headers(**kwargs: Any) -> None:
    _SUCCESS_HEADERS.clear()


def _refusal(exc: Exception) -> Response:
    """The error answer, by the API's exception handler (a 500 for the unexpected)."""
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        exc.auth_header = "Token"  # type: ignore[attr-defined]  # as DRF's APIView sets it
    response = exception_handler(exc, {})
    if response is None:  # a bug: logged, answered as Django's handler would (a 500)
        logger.error("REST write failed", exc_info=exc)
        response = Response({"detail": "Server error."}, status=500)
    return _rendered(response)


def _rendered(response: Response) -> Response:
    response.accepted_renderer = JSONRenderer()
    response.accepted_media_type = "application/json"
    response.renderer_context = {}
    response["Allow"] = ALLOW
    response["Vary"] = "Accept"
    return response.render()  # type: ignore[return-value]


def _no_view(request: HttpRequest) -> Response:
    raise AssertionError("only process_request is called")
