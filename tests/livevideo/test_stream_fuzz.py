"""Whatever a viewer sends over the WebSocket, it gets an ``error`` event (or, for a valid
message, its normal effect), never a crash or a closed socket, and the other viewers of the
broadcast go on receiving events throughout. Hypothesis draws the frames: random text, random
JSON, objects with random ``type``/``kind``/``text`` of any JSON type, huge strings, binary."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

from livevideo.models import ReactionKind
from tests.factories import BroadcastFactory, UserFactory
from tests.realtime.streamtools import WSClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_realtime")]

KINDS = list(ReactionKind.values)
COMMENT_MAX = 500
WAIT = 10  # seconds; generous, the machine may be busy

# What a frame must bring back to its sender.
INVALID = "invalid"  # one error event, code "invalid"
PONG = "pong"  # a pong
QUIET = "quiet"  # nothing (a reaction: the next totals include it)
COMMENT = "comment"  # comment.created for everyone
COMMENT_OR_INVALID = "comment or invalid"  # moderation may refuse it (a link, say)


@dataclass(frozen=True)
class Frame:
    text: str | None = None
    data: bytes | None = None

    def outcome(self) -> str:
        """What the protocol (docs/protocol.md) says this frame gets."""
        if self.text is None:
            return INVALID
        try:
            message = json.loads(self.text)
        except (ValueError, RecursionError):  # not JSON, or nested past any parser's depth
            return INVALID
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            return INVALID
        if message["type"] == "ping":
            return PONG
        if message["type"] == "reaction":
            return QUIET if message.get("kind") in KINDS else INVALID
        if message["type"] == "comment":
            return comment_outcome(message.get("text"))
        return INVALID


def comment_outcome(text: Any) -> str:
    if not isinstance(text, str) or "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        return INVALID
    clean = text.strip()
    if not 1 <= len(clean) <= COMMENT_MAX:
        return INVALID
    plain = all(c.isascii() and (c.isalnum() or c == " ") for c in clean)
    return COMMENT if plain else COMMENT_OR_INVALID


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
messages = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["ping", "reaction", "comment"]) | json_values,
        "kind": st.sampled_from(KINDS) | json_values,
        "text": st.text(max_size=COMMENT_MAX + 20)
        | st.from_regex(r"\A[a-z ]{1,40}\Z")
        | json_values,
    },
)
huge = st.integers(10_000, 300_000).flatmap(
    lambda n: st.sampled_from(
        [
            "x" * n,
            json.dumps({"type": "comment", "text": "é" * n}),
            json.dumps({"type": "reaction", "kind": "like" * n}),
            json.dumps({"type": "t" * n}),
        ]
    )
)
frames = st.one_of(
    st.text(max_size=200).map(lambda t: Frame(text=t)),
    json_values.map(lambda v: Frame(text=json.dumps(v))),
    messages.map(lambda m: Frame(text=json.dumps(m))),
    huge.map(lambda t: Frame(text=t)),
    st.binary(max_size=200).map(lambda b: Frame(data=b)),
    st.just(Frame(text='{"type": "comment", "text": "a lone \\ud800 surrogate"}')),
)


@pytest.fixture
def scene(settings: Any) -> tuple[int, list[tuple[bytes, bytes]]]:
    """A live broadcast and a signed-in viewer's headers; rate limits lifted, so that the
    fuzzer reaches the validation behind them."""
    settings.RATE_LIMITS = {
        **settings.RATE_LIMITS,
        "COMMENT": (10**6, 1.0),
        "REACTION": (10**6, 1.0),
        "ADDRESS_COMMENT": (0, 1.0),
        "ADDRESS_REACTION": (0, 1.0),
    }
    settings.COMMENT_RULES = {**settings.COMMENT_RULES, "DUPLICATE_WINDOW": 0}
    broadcast = BroadcastFactory(live=True)
    token = Token.objects.create(user=UserFactory(username="fuzzer"))
    return broadcast.pk, [(b"authorization", f"Token {token.key}".encode())]


def of_type(events: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == event_type]


def last_comment_is(text: str) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda got: (
        bool(got) and got[-1]["type"] == "comment.created" and (got[-1]["data"]["text"] == text)
    )


async def replies_to(sender: WSClient, frame: Frame) -> list[dict[str, Any]]:
    """Send ``frame`` then a ping; what came back up to that ping's pong, and up to the
    frame's error if it should get one: a reaction is handled concurrently with the messages
    after it, so its error may come after the pong; everything else comes in order."""
    await sender.send_raw(text=frame.text, data=frame.data)
    await sender.send({"type": "ping"})
    pongs = 2 if frame.outcome() == PONG else 1
    errors = 1 if frame.outcome() == INVALID else 0
    return await sender.receive_until(
        lambda got: len(of_type(got, "pong")) == pongs and len(of_type(got, "error")) >= errors,
        WAIT,
    )


@given(batch=st.lists(frames, min_size=1, max_size=8))
@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
async def test_any_frame_gets_an_error_or_its_effect_and_other_viewers_carry_on(scene, batch):
    broadcast_id, headers = scene
    sender = WSClient(f"/ws/broadcasts/{broadcast_id}/", headers=headers)
    other = WSClient(f"/ws/broadcasts/{broadcast_id}/")
    await sender.connect()
    await other.connect()
    try:
        published: list[str] = []  # comments accepted, in order
        to_sender: list[dict[str, Any]] = []  # everything the sender received
        for frame in batch:
            outcome = frame.outcome()
            replies = await replies_to(sender, frame)
            to_sender += replies
            errors = of_type(replies, "error")
            for error in errors:
                assert error["id"] is None
                assert isinstance(error["data"]["message"], str)
                assert error["data"]["message"]
            codes = [e["data"]["code"] for e in errors]
            if outcome == INVALID or (outcome == COMMENT_OR_INVALID and codes):
                assert codes == ["invalid"], (frame, errors)
            else:
                assert codes == [], (frame, errors)
                if outcome in (COMMENT, COMMENT_OR_INVALID):
                    published.append(json.loads(frame.text)["text"].strip())  # type: ignore[arg-type]

        # The socket is still open and in order; both see every comment, the last one too.
        await sender.send({"type": "comment", "text": "still here"})
        to_sender += await sender.receive_until(last_comment_is("still here"), WAIT)
        to_other = await other.receive_until(last_comment_is("still here"), WAIT)
        for events in (to_sender, to_other):
            created = [e["data"]["text"] for e in of_type(events, "comment.created")]
            assert created == [*published, "still here"]
        assert of_type(to_other, "error") == [], "errors go to the sender only"
    finally:
        await sender.close()
        await other.close()


async def test_deeply_nested_json_is_invalid_not_a_server_fault(scene):
    broadcast_id, headers = scene
    sender = WSClient(f"/ws/broadcasts/{broadcast_id}/", headers=headers)
    await sender.connect()
    try:
        replies = await replies_to(sender, Frame(text="[" * 100_000))
        assert [e["data"]["code"] for e in of_type(replies, "error")] == ["invalid"]
    finally:
        await sender.close()
