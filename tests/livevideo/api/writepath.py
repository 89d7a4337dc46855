"""Requests to the ASGI application for the write-path tests: through the endpoint that
answers REST writes on the event loop (``livevideo.api.writepath``), or straight to Django's
handler (the DRF views) to compare."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from rest_framework.authtoken.models import Token

from livevideo.asgi import application, django_asgi_app


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def post(
    path: str,
    body: Any = None,
    *,
    token: Token | None = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    content_type: str = "application/json",
    client: str = "192.0.2.1",
    django: bool = False,
) -> Answer:
    """POST ``body`` as JSON (or ``raw`` bytes) from ``client`` to ``path`` through the whole
    application, or only Django's handler (``django=True``)."""
    sent = {"host": "testserver", "content-type": content_type, **(headers or {})}
    if token is not None:
        sent["authorization"] = f"Token {token.key}"
    payload = raw if raw is not None else json.dumps(body).encode()
    sent["content-length"] = str(len(payload))
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "path": path,
        "query_string": query.encode(),
        "headers": [(k.encode(), v.encode("latin1")) for k, v in sent.items()],
        "client": (client, 50000),
    }
    # Called as uvicorn calls it (channels' HttpCommunicator would run it in a
    # ThreadSensitiveContext, which a server does not).
    messages = [{"type": "http.request", "body": payload, "more_body": False}]
    answer: dict[str, Any] = {}
    body_chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client stays
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.update(message)
        else:
            body_chunks.append(message.get("body", b""))

    await asyncio.wait_for((django_asgi_app if django else application)(scope, receive, send), 10)
    return Answer(
        answer["status"],
        {k.decode().lower(): v.decode("latin1") for k, v in answer["headers"]},
        b"".join(body_chunks),
    )
