"""The ASGI lifespan: what a server process readies before it takes connections.

Servers that speak the lifespan protocol (uvicorn) call it at startup; the history store starts
there (``HistoryStore.start``: a regions store begins answering the other regions). A store that
cannot start is logged and the server starts all the same: it starts again on first use, and a
server that refused to start would serve nobody at all. Servers without the protocol (Daphne)
start the store on first use.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from realtime.runtime import get_history

logger = logging.getLogger(__name__)


async def lifespan(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """The ``lifespan`` scope's application (routed by ``ProtocolTypeRouter``)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await get_history().start()
            except Exception:
                logger.exception("realtime: the history store did not start; it will on first use")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
