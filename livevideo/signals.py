"""What the product's services announce, as Django signals sent once the change commits.

A service calls ``signals.<name>.send_on_commit(sender, **kwargs)`` inside its transaction;
the signal goes out after the commit, never for a change that rolled back (outside a transaction,
at once). The real-time stream is one receiver (``livevideo.events``, connected in
``LivevideoConfig.ready``); notifications, webhooks or analytics connect the same way::

    @receiver(signals.comment_created)
    def notify(sender, *, comment, **kwargs): ...

Receivers run one after another in the committing thread, each on its own: one that raises is
logged and the others still run. Keep them short (queue slow work elsewhere).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction
from django.dispatch import Signal


class CommitSignal(Signal):
    """A signal that a service sends when its change commits."""

    def send_on_commit(self, sender: type, **kwargs: Any) -> None:
        """Send once the current transaction commits (at once outside one); receivers that
        raise are logged (``send_robust``), so one broken receiver spares the others."""
        transaction.on_commit(partial(self.send_robust, sender, **kwargs))


# Each signal's sender is the model the change is about; its arguments are listed beside it.

comment_created = CommitSignal()  # Comment; comment: shown to everyone (posted, or approved)
comment_removed = CommitSignal()  # Comment; comment: hidden from everyone
comment_pinned = CommitSignal()  # Broadcast; broadcast: its pinned_comment changed (or None)
reaction_recorded = CommitSignal()  # Reaction; broadcast_id, counts: {kind: taps} in the batch
broadcast_status_changed = CommitSignal()  # Broadcast; broadcast: scheduled -> live -> ended
broadcast_video_changed = CommitSignal()  # Broadcast; broadcast: encoder, replay or still
chat_rules_changed = CommitSignal()  # Broadcast; broadcast: slow mode, links, blocked words
viewer_barred = CommitSignal()  # BroadcastBan; broadcast, user_id, ban (None: let back in)
review_queue_changed = CommitSignal()  # Comment; broadcast_id: held or reported ones changed

ALL = (
    comment_created,
    comment_removed,
    comment_pinned,
    reaction_recorded,
    broadcast_status_changed,
    broadcast_video_changed,
    chat_rules_changed,
    viewer_barred,
    review_queue_changed,
)
