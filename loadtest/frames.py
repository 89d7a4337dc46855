"""What a worker makes of the frames its viewers receive: each distinct frame decoded once per
worker into checks (``decode``) that every viewer receiving it then applies (``Viewer.frame`` in
``loadtest.client``).

The server sends every viewer of a broadcast the same frame, byte for byte, so the decoded
events are shared; a first frame (the viewer's own ``hello``, then the events it missed) has
its ``hello`` decoded alone and the replay after it shared by its text. A frame of deliveries
whose ids rise is summed up once (``Run``), so that a viewer whose ledger ends before it takes
it at once, as checking each event would.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import pairwise
from typing import Any

IGNORED = frozenset({"keepalive", "viewers", "presence"})

# What a viewer does with an event, decided once per distinct frame (``decode``). The answers
# to the viewer itself come first: one comparison sets them apart from the stream's events.
HELLO, ERROR, PONG, REACTIONS, COMMENT, RESET, OTHER = range(7)
_ACTIONS = {"hello": HELLO, "error": ERROR, "reactions": REACTIONS, "comment.created": COMMENT}
_ACTIONS.update({"reset": RESET, "pong": PONG})

# One event as a viewer checks it: (action, id, ts, detail). ``detail`` is what the action
# needs: the hello's data, the reactions totals, the comment's pk, the reset's last id.
Check = tuple[int, "int | None", float, Any]
_NO_TOTALS: Any = object()


class Run:
    """What a frame's events come to for a viewer that has seen none of their ids: worked out
    once per distinct frame, for frames of deliveries only (no answer, no ``reset``) whose ids
    rise from above 0 (``Run.of``). A viewer whose ledger ends before ``first_id`` takes them
    all at once, as checking each would (``Ledger.events``); any other checks each."""

    __slots__ = ("comment_sum", "comments", "deliveries", "first_id", "ids", "last_id")
    __slots__ += ("stamps", "totals")

    def __init__(self, checks: list[Check], ids: list[int]) -> None:
        self.first_id, self.last_id = (ids[0], ids[-1]) if ids else (None, None)
        self.ids, self.deliveries = len(ids), len(checks)
        pks = [detail for action, _, _, detail in checks if action == COMMENT]
        self.comments, self.comment_sum = len(pks), sum(pks)
        totals = [detail for action, _, _, detail in checks if action == REACTIONS]
        self.totals = totals[-1] if totals else _NO_TOTALS
        self.stamps = [check[2] for check in checks]  # every event's ``ts``, in order

    @staticmethod
    def of(checks: list[Check]) -> Run | None:
        """The run of ``checks``, or None when they must be checked one by one."""
        ids = [check[1] for check in checks if check[1] is not None]
        if any(check[0] not in (REACTIONS, COMMENT, OTHER) for check in checks):
            return None
        if any(type(i) is not int or i <= 0 for i in ids) or any(b <= a for a, b in pairwise(ids)):
            return None
        return Run(checks, ids)


class Checks(list[Check]):
    """A frame's checks, in order. ``hello``: a first frame's ``hello`` data, answered before
    the rest; ``run``: what the rest come to (None: check them one by one)."""

    __slots__ = ("hello", "run")

    def __init__(self, checks: list[Check], run: Run | None, hello: Any = None) -> None:
        super().__init__(checks)
        self.run, self.hello = run, hello


DECODED_KEPT = 2048  # frames whose decoded events are kept, in each of two generations

# Frames met recently, and those met before them. A frame found in ``_older`` moves to
# ``_recent``; when ``_recent`` is full it becomes ``_older`` (the older ones go): the frames
# of a fan-out still under way stay, where clearing everything made them decoded again.
_Key = bytes | str | tuple[int, str]
_recent: dict[_Key, Checks] = {}
_older: dict[_Key, Checks] = {}

# A first frame: the viewer's own ``hello``, then the events it missed (the same text for every
# viewer resuming from the same id). Encoded as ``realtime.protocol.encoded_parts`` writes it.
_HELLO_TEXT = '[{"type":"hello",'
_HELLO_BYTES = _HELLO_TEXT.encode()
_decoder = json.JSONDecoder()
_REPLAY = 0  # a replay's key: (_REPLAY, its text after the hello)
_NOTHING = Checks([], Run([], []))


def decode(payload: bytes | str) -> Checks:
    """A frame's events, as checks. The server sends every viewer of a broadcast the same
    frame, byte for byte, so a worker decodes each distinct frame once and its viewers share
    the result (they only read it); every viewer still checks every event. A first frame is
    distinct (its ``hello``): the ``hello`` is decoded alone and the replay after it shared."""
    checks = _recent.get(payload)
    if checks is None:
        if payload.startswith(_HELLO_BYTES if isinstance(payload, bytes) else _HELLO_TEXT):
            return _decode_first(payload)  # never kept whole: its hello is its own
        checks = _older_or_made(payload, lambda: _checks(payload))
    return checks


def _decode_first(payload: bytes | str) -> Checks:
    """A first frame's checks: its ``hello``'s own, then those of the events after it."""
    text = payload.decode() if isinstance(payload, bytes) else payload
    try:
        hello, end = _decoder.raw_decode(text, 1)
    except json.JSONDecodeError:
        return _checks(payload)  # not as the server writes it (it raises as before)
    rest = text[end:]  # "]", or ",{...},{...}]": the same for viewers resuming alike
    if rest == "]":
        checks = _NOTHING
    elif not rest.startswith(","):
        return _checks(payload)
    else:
        key = (_REPLAY, rest)  # never equal to a whole frame's key
        checks = _recent.get(key)
        if checks is None:
            checks = _older_or_made(key, lambda: _checks("[" + rest[1:]))
    if hello["type"] in IGNORED:
        return checks
    first = _check(hello)
    if first[0] != HELLO:
        return Checks([first, *checks], None)
    return Checks([first, *checks], checks.run, hello=first[3])


def _older_or_made(key: _Key, make: Callable[[], Checks]) -> Checks:
    """The checks of a key not in ``_recent``: moved from ``_older``, or made; kept recent."""
    global _recent, _older
    checks = _older.get(key)
    if checks is None:
        checks = make()
    if len(_recent) >= DECODED_KEPT:
        _recent, _older = {}, _recent
    _recent[key] = checks
    return checks


def _checks(payload: bytes | str) -> Checks:
    checks = [_check(event) for event in json.loads(payload) if event["type"] not in IGNORED]
    return Checks(checks, Run.of(checks))


def _check(event: dict[str, Any]) -> Check:
    action = _ACTIONS.get(event["type"], OTHER)
    data = event["data"]
    if action == COMMENT:
        data = data["id"]
    elif action == RESET:
        data = data["last_event_id"]
    return (action, event["id"], event["ts"], data)
