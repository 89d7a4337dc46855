"""What a broadcast announces on its real-time topic. Services call these inside their
transaction; ``realtime.publish`` sends only after it commits."""

from __future__ import annotations

from livevideo import selectors
from livevideo.models import Broadcast, BroadcastBan, Comment
from livevideo.video import selectors as video
from realtime.publish import publish, publish_latest


def comment_created(comment: Comment) -> None:
    publish(
        selectors.broadcast_topic(comment.broadcast_id),
        "comment.created",
        selectors.comment_data(comment),
    )


def comment_removed(comment: Comment) -> None:
    publish(selectors.broadcast_topic(comment.broadcast_id), "comment.removed", {"id": comment.pk})


def broadcast_status(broadcast: Broadcast) -> None:
    publish(
        selectors.broadcast_topic(broadcast.pk),
        "broadcast.status",
        selectors.status_data(broadcast),
    )


def broadcast_video(broadcast: Broadcast) -> None:
    """The encoder connected or went away, or a replay or still is ready."""
    publish(selectors.broadcast_topic(broadcast.pk), "broadcast.video", video.video_data(broadcast))


def reactions_changed(broadcast_id: int) -> None:
    """Totals are coalesced: viewers get the absolute totals a few times a second at most."""
    publish_latest(
        selectors.broadcast_topic(broadcast_id),
        "reactions",
        lambda: selectors.reaction_totals(broadcast_id=broadcast_id),
    )


def comment_pinned(broadcast: Broadcast) -> None:
    """The pinned comment changed: ``{comment}`` is the pinned comment, or null when unpinned."""
    pinned = broadcast.pinned_comment
    publish(
        selectors.broadcast_topic(broadcast.pk),
        "comment.pinned",
        {"comment": selectors.comment_data(pinned) if pinned else None},
    )


def chat_rules_changed(broadcast: Broadcast) -> None:
    """Slow mode, links or blocked words changed: every viewer's composer says so."""
    publish(selectors.broadcast_topic(broadcast.pk), "chat.rules", selectors.chat_rules(broadcast))


def viewer_barred(*, broadcast: Broadcast, user_id: int, ban: BroadcastBan | None) -> None:
    """A viewer was timed out, banned or let back in (``ban`` None). On the broadcast's topic,
    as chats announce time-outs; each client applies the one whose ``user_id`` is its own."""
    publish(
        selectors.broadcast_topic(broadcast.pk),
        "viewer.state",
        # The reason stays private: its viewer reads it in their own hello.
        {
            "user_id": user_id,
            "barred": None if ban is None else {"until": selectors.iso(ban.until)},
        },
    )


def review_changed(broadcast_id: int) -> None:
    """The review queue changed. Only its size goes to everyone; moderators fetch the queue
    over REST (a held comment is not for viewers' eyes)."""
    count = selectors.review_queue(broadcast_id=broadcast_id).count()
    publish(selectors.broadcast_topic(broadcast_id), "review.queue", {"count": count})
