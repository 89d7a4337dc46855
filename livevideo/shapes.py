"""The output shapes REST and the real-time stream share, each defined once.

``livevideo.selectors`` builds these dicts (plain dict literals: the stream's hot paths pay
nothing for them); ``livevideo.api.schema`` derives the OpenAPI schema's serializers from
them; ``tests/livevideo/test_shapes.py`` checks that the schema, what the stream sends and
docs/protocol.md agree. To change a shape: change it here, in its selector and in the docs.

A field's type says what JSON it is (``X | None``: nullable, ``NotRequired``: not always
present); ``Annotated[..., Doc(...)]`` adds what the schema says beyond the type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, NotRequired, TypedDict

from django.db.models import Choices

from livevideo.models import BroadcastStatus, IngestState, ReactionKind


@dataclass(frozen=True, slots=True)
class Doc:
    """What the schema says of a field beyond its type."""

    help_text: str = ""
    min_value: int | None = None
    choices: type[Choices] | None = None
    allow_blank: bool = False
    time: bool = False  # an ISO 8601 UTC time ("...Z"), as ``selectors.iso`` writes it


Time = Annotated[str, Doc(time=True)]
Count = Annotated[int, Doc(min_value=0)]
# Fields a broadcast shares with its events' data.
StatusName = Annotated[str, Doc(choices=BroadcastStatus)]
IngestStateName = Annotated[
    str,
    Doc(
        "The encoder: idle (none yet), publishing, or reconnecting (gone for now).",
        choices=IngestState,
    ),
]
PlaybackUrl = Annotated[
    str | None,
    Doc(
        "HLS playlist: the live one while an encoder publishes, the replay after "
        "the end when there is one, else null."
    ),
]
ThumbnailUrl = Annotated[str | None, Doc("A still of the video.")]


class User(TypedDict):
    id: int
    username: str
    display_name: str


# Every reaction kind is a key (functional syntax: the kinds come from the model).
ReactionCounts = TypedDict("ReactionCounts", dict.fromkeys(ReactionKind.values, Count))  # type: ignore[misc]


class ReactionTotals(TypedDict):
    totals: Annotated[ReactionCounts, Doc("Taps per kind; every kind is present.")]
    total: Count


class Comment(TypedDict):
    id: int
    broadcast: int
    author: User
    text: str
    created_at: Time


class CommentHeld(Comment):
    held: Annotated[
        bool,
        Doc("Held for review (a hold word): shown to others once a moderator approves it."),
    ]


class ChatRules(TypedDict):
    slow_mode_seconds: Annotated[
        int, Doc("One comment per viewer per this many seconds (0: off).", min_value=0)
    ]
    links_allowed: bool
    blocked_words: Annotated[
        bool, Doc("Some words are refused (the list itself is for moderators).")
    ]


class Status(TypedDict):
    """The ``broadcast.status`` event's data."""

    status: StatusName
    started_at: Time | None
    ended_at: Time | None


class Video(TypedDict):
    """The video fields of a broadcast, and the ``broadcast.video`` event's data."""

    ingest_state: IngestStateName
    playback_url: PlaybackUrl
    thumbnail_url: ThumbnailUrl


class Broadcast(TypedDict):
    """A broadcast as REST and the stream's ``hello`` show it."""

    id: int
    title: str
    description: Annotated[str, Doc(allow_blank=True)]
    status: StatusName
    broadcaster: User
    stream_url: Annotated[str, Doc(allow_blank=True)]
    scheduled_for: Time | None
    started_at: Time | None
    ended_at: Time | None
    reactions: ReactionTotals
    viewers: Annotated[int, Doc("Concurrent viewers now.", min_value=0)]
    comments_count: Annotated[int, Doc("Visible comments.", min_value=0)]
    pinned_comment: Annotated[Comment | None, Doc("The comment the broadcaster pinned, or null.")]
    ingest_state: IngestStateName
    playback_url: PlaybackUrl
    thumbnail_url: ThumbnailUrl
    chat_rules: Annotated[ChatRules, Doc("What a viewer should know before commenting.")]


class BroadcastDetail(Broadcast):
    ingest_url: NotRequired[
        Annotated[
            str,
            Doc(
                "Broadcaster and staff only: the RTMP server to publish to "
                "(`<ingest_url>/<stream_key>`)."
            ),
        ]
    ]
    stream_key: NotRequired[
        Annotated[str, Doc("Broadcaster and staff only: the secret stream key.")]
    ]
