"""The output shapes REST and the real-time stream share, each defined once.

``livevideo.selectors`` builds these dicts (plain dict literals: the stream's hot paths pay
nothing for them); ``livevideo.api.schema`` derives the OpenAPI schema's serializers from
them; ``tests/livevideo/test_shapes.py`` checks that the schema, what the stream sends and
docs/protocol.md agree. To change a shape: change it here, in its selector and in the docs.

A shape named like a model carries ``Data`` (``CommentData``, as ``selectors.comment_data``
builds it, beside the ``Comment`` model); its schema component drops it (``Comment``).

A field's type says what JSON it is (``X | None``: nullable, ``NotRequired``: not always
present); ``Annotated[..., Doc(...)]`` adds what the schema says beyond the type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, NotRequired, TypedDict

from django.db.models import Choices

from livevideo.models import BroadcastStatus, IngestState, ModerationAction, ReactionKind
from presence.selectors import USERS_PRESENT_LIMIT


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


class UserData(TypedDict):
    id: int
    username: str
    display_name: str


# Every reaction kind is a key (functional syntax: the kinds come from the model).
ReactionCounts = TypedDict("ReactionCounts", dict.fromkeys(ReactionKind.values, Count))  # type: ignore[misc]


class ReactionTotals(TypedDict):
    totals: Annotated[ReactionCounts, Doc("Taps per kind; every kind is present.")]
    total: Count


class CommentData(TypedDict):
    id: int
    broadcast: int
    author: UserData
    text: str
    created_at: Time


class CommentHeld(CommentData):
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


class BroadcastData(TypedDict):
    """A broadcast as REST and the stream's ``hello`` show it."""

    id: int
    title: str
    description: Annotated[str, Doc(allow_blank=True)]
    status: StatusName
    broadcaster: UserData
    stream_url: Annotated[str, Doc(allow_blank=True)]
    scheduled_for: Time | None
    started_at: Time | None
    ended_at: Time | None
    reactions: ReactionTotals
    viewers: Annotated[int, Doc("Concurrent viewers now.", min_value=0)]
    comments_count: Annotated[int, Doc("Visible comments.", min_value=0)]
    pinned_comment: Annotated[
        CommentData | None, Doc("The comment the broadcaster pinned, or null.")
    ]
    ingest_state: IngestStateName
    playback_url: PlaybackUrl
    thumbnail_url: ThumbnailUrl
    chat_rules: Annotated[ChatRules, Doc("What a viewer should know before commenting.")]


class BroadcastDetail(BroadcastData):
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


# --- small answers and the stream's snapshots ------------------------------------------------


class ViewerCount(TypedDict):
    """``GET .../viewers/`` and the ``viewers`` event's data."""

    count: Count


class Accepted(TypedDict):
    accepted: bool


class Error(TypedDict):
    detail: Annotated[str, Doc("Why the request was refused.")]


class ReviewQueueSize(TypedDict):
    """The ``review.queue`` event's data."""

    count: Annotated[int, Doc("Held and reported comments waiting.", min_value=0)]


# --- video: the replay timeline and the audience's latency ----------------------------------


class TimelineComment(TypedDict):
    offset_ms: int
    comment: CommentData


class TimelineReactions(TypedDict):
    offset_ms: Annotated[int, Doc("The second's start, in broadcast time.")]
    counts: Annotated[
        dict[str, Annotated[int, Doc(min_value=1)]], Doc("Taps per kind in that second.")
    ]


class Timeline(TypedDict):
    origin: Annotated[str | None, Doc("Broadcast time 0 (null: never live).", time=True)]
    from_ms: int
    to_ms: Annotated[int, Doc("Where this answer stops (exclusive).")]
    next_from_ms: Annotated[int | None, Doc("Set when the range was cut: ask again from here.")]
    comments: Annotated[list[TimelineComment], Doc("Visible comments, in order.")]
    reactions: list[TimelineReactions]


class AudienceLatency(TypedDict):
    average_ms: int | None
    reports: Annotated[int, Doc("Reports in the last 30 s.")]


# --- moderation ------------------------------------------------------------------------------

Role = Literal["viewer", "moderator", "broadcaster", "staff"]
ViewerRole = Literal[Role, "anonymous"]  # a role on the watch page: not signed in too
ModeratorScope = Annotated[
    Literal["broadcast", "standing"],
    Doc("`broadcast`: appointed to this one; `standing`: on the broadcaster's list."),
]


class BarredUntil(TypedDict):
    """A time-out or a ban as everyone learns of it (the ``viewer.state`` event)."""

    until: Annotated[str | None, Doc("null: banned for good.", time=True)]


class Barred(BarredUntil):
    """A time-out or a ban as its viewer (and the moderators) are told of it."""

    reason: Annotated[str, Doc(allow_blank=True)]


class ViewerState(TypedDict):
    """What one viewer may do on a broadcast now: the page, and ``hello``'s ``you``."""

    role: ViewerRole
    barred: Barred | None


class ViewerBarred(TypedDict):
    """The ``viewer.state`` event's data: that user was timed out, banned or let back in."""

    user_id: int
    barred: BarredUntil | None


class Pinned(TypedDict):
    """``PUT .../pinned/`` and the ``comment.pinned`` event's data."""

    comment: Annotated[CommentData | None, Doc("The pinned comment; null once unpinned.")]


class ModerationSettings(TypedDict):
    """The chat rules as moderators read and set them (the words themselves included)."""

    slow_mode_seconds: Annotated[
        int, Doc("One comment per viewer per this many seconds (0: off).", min_value=0)
    ]
    blocked_words: Annotated[str, Doc(allow_blank=True)]
    allow_links: bool
    hold_words: Annotated[
        str, Doc("Comments with any of these wait for approval.", allow_blank=True)
    ]


class Ban(Barred):
    user: UserData
    created_at: Time


class AuditEntry(TypedDict):
    id: int
    action: Annotated[str, Doc(choices=ModerationAction.Action)]
    actor: UserData | None
    target_user: UserData | None
    comment_id: int | None
    detail: Annotated[str, Doc(allow_blank=True)]
    created_at: Time


class StandingModeratorData(TypedDict):
    user: UserData
    created_at: Time


class Moderator(StandingModeratorData):
    scope: ModeratorScope


class CardComment(CommentData):
    removed: bool


class UserCard(TypedDict):
    """What a moderator sees on clicking a name."""

    user: UserData
    role: Role
    barred: Barred | None
    comments: Annotated[list[CardComment], Doc("Latest first, in this broadcast.")]


class ReviewItem(TypedDict):
    comment: CommentData
    held: Annotated[bool, Doc("Held by a hold word: nobody else sees it yet.")]
    reports: Annotated[int, Doc("Viewers who reported it.", min_value=0)]


class Watching(TypedDict):
    count: Annotated[
        int,
        Doc(
            "People watching now: each signed-in user once however many tabs they hold, "
            "anonymous viewers once per client address.",
            min_value=0,
        ),
    ]
    users: Annotated[
        list[UserData],
        Doc(
            "The signed-in viewers on the broadcast now (or back within the presence grace "
            f"period), the broadcaster excepted; at most {USERS_PRESENT_LIMIT}, the most "
            "recently seen."
        ),
    ]
