"""What a broadcast announces on its real-time topic: receivers of ``livevideo.signals``,
connected in ``LivevideoConfig.ready``. Signals go out after the commit, so the stream never
announces a row that rolled back."""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

from livevideo import selectors, shapes, signals
from livevideo.models import Broadcast, BroadcastBan, Comment
from livevideo.video import selectors as video
from realtime.publish import publish, publish_latest

# The reaction totals' snapshot (``{totals, total}``, the total never decreasing).
REACTIONS_EVENT = "reactions"


def comment_created(sender: type, *, comment: Comment, **kwargs: Any) -> None:
    publish(
        selectors.broadcast_topic(comment.broadcast_id),
        "comment.created",
        selectors.comment_data(comment),
    )


def comment_removed(sender: type, *, comment: Comment, **kwargs: Any) -> None:
    publish(selectors.broadcast_topic(comment.broadcast_id), "comment.removed", {"id": comment.pk})


def broadcast_status(sender: type, *, broadcast: Broadcast, **kwargs: Any) -> None:
    publish(
        selectors.broadcast_topic(broadcast.pk),
        "broadcast.status",
        selectors.status_data(broadcast),
    )


def broadcast_video(sender: type, *, broadcast: Broadcast, **kwargs: Any) -> None:
    """The encoder connected or went away, or a replay or still is ready."""
    publish(selectors.broadcast_topic(broadcast.pk), "broadcast.video", video.video_data(broadcast))


def reactions_changed(sender: type, *, broadcast_id: int, **kwargs: Any) -> None:
    """Totals are coalesced: viewers get the absolute totals a few times a second at most."""
    publish_latest(
        selectors.broadcast_topic(broadcast_id),
        REACTIONS_EVENT,
        lambda: selectors.reaction_totals(broadcast_id=broadcast_id),
    )


def comment_pinned(sender: type, *, broadcast: Broadcast, **kwargs: Any) -> None:
    """The pinned comment changed: ``{comment}`` is the pinned comment, or null when unpinned."""
    data = selectors.pinned_data(broadcast.pinned_comment)
    publish(selectors.broadcast_topic(broadcast.pk), "comment.pinned", data)


def chat_rules_changed(sender: type, *, broadcast: Broadcast, **kwargs: Any) -> None:
    """Slow mode, links or blocked words changed: every viewer's composer says so."""
    publish(selectors.broadcast_topic(broadcast.pk), "chat.rules", selectors.chat_rules(broadcast))


def viewer_barred(
    sender: type, *, broadcast: Broadcast, user_id: int, ban: BroadcastBan | None, **kwargs: Any
) -> None:
    """A viewer was timed out, banned or let back in (``ban`` None). On the broadcast's topic,
    as chats announce time-outs; each client applies the one whose ``user_id`` is its own."""
    data = selectors.viewer_barred_data(user_id=user_id, ban=ban)
    publish(selectors.broadcast_topic(broadcast.pk), "viewer.state", data)


def review_changed(sender: type, *, broadcast_id: int, **kwargs: Any) -> None:
    """The review queue changed. Only its size goes to everyone; moderators fetch the queue
    over REST (a held comment is not for viewers' eyes)."""
    size: shapes.ReviewQueueSize = {
        "count": selectors.review_queue(broadcast_id=broadcast_id).count()
    }
    publish(selectors.broadcast_topic(broadcast_id), "review.queue", size)


RECEIVERS: dict[Signal, Any] = {
    signals.comment_created: comment_created,
    signals.comment_removed: comment_removed,
    signals.comment_pinned: comment_pinned,
    signals.reaction_recorded: reactions_changed,
    signals.broadcast_status_changed: broadcast_status,
    signals.broadcast_video_changed: broadcast_video,
    signals.chat_rules_changed: chat_rules_changed,
    signals.viewer_barred: viewer_barred,
    signals.review_queue_changed: review_changed,
}


def connect() -> None:
    """Publish every signal the services send to the broadcast's real-time topic."""
    for signal, receiver in RECEIVERS.items():
        signal.connect(receiver, dispatch_uid=f"livevideo.events.{receiver.__name__}")
