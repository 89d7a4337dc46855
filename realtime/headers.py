"""A few headers of an ASGI connection, found without decoding the rest.

A WebSocket's checks at connect (its Origin, its credentials) each read one to three of the
dozen or more headers a browser sends; decoding them all into a dictionary for each check was a
measurable share of a connect (docs/performance-rounds.md, round 9).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def scope_headers(scope: Mapping[str, Any], *names: bytes) -> dict[bytes, str]:
    """The values of the headers ``names`` (lower-case) that ``scope`` has, decoded as
    Latin-1; of a header sent more than once, the last."""
    found: dict[bytes, str] = {}
    for name, value in scope.get("headers", ()):
        name = name.lower()
        if name in names:
            found[name] = value.decode("latin1")
    return found
