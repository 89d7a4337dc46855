"""The product's data: broadcasts, reactions (with exact running totals) and comments."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models


def new_stream_key() -> str:
    """A secret for the encoder: 32 URL-safe characters after a recognisable prefix."""
    return "lv_" + secrets.token_urlsafe(24)


class IngestState(models.TextChoices):
    """What the media server last told us about the broadcast's encoder."""

    IDLE = "idle", "No encoder"
    PUBLISHING = "publishing", "Encoder connected"
    RECONNECTING = "reconnecting", "Encoder gone, waiting for it to come back"


class ReactionKind(models.TextChoices):
    LIKE = "like", "Like"
    CELEBRATE = "celebrate", "Celebrate"
    SUPPORT = "support", "Support"
    LOVE = "love", "Love"
    INSIGHTFUL = "insightful", "Insightful"
    FUNNY = "funny", "Funny"


class BroadcastStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    LIVE = "live", "Live"
    ENDED = "ended", "Ended"


class Broadcast(models.Model):
    broadcaster = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="broadcasts"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=5000)
    stream_url = models.URLField(blank=True, max_length=500)
    status = models.CharField(
        max_length=10, choices=BroadcastStatus.choices, default=BroadcastStatus.SCHEDULED
    )
    scheduled_for = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Moderation settings, changed through livevideo.moderation.
    slow_mode_seconds = models.PositiveIntegerField(
        default=0, help_text="One comment per viewer per this many seconds (0: off)."
    )
    blocked_words = models.TextField(
        blank=True, max_length=5000, help_text="Comments containing any of these are refused."
    )
    allow_links = models.BooleanField(default=False, help_text="Allow links in comments.")
    hold_words = models.TextField(
        blank=True,
        max_length=5000,
        help_text="Comments containing any of these wait for a moderator's approval.",
    )
    pinned_comment = models.ForeignKey(
        "Comment", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Video, changed through livevideo.video.services.
    stream_key = models.CharField(max_length=64, unique=True, default=new_stream_key)
    ingest_state = models.CharField(
        max_length=12, choices=IngestState.choices, default=IngestState.IDLE
    )
    ingest_changed_at = models.DateTimeField(null=True, blank=True)
    video_started_at = models.DateTimeField(
        null=True, blank=True, help_text="When the first accepted publish began (replay's 0)."
    )
    recording = models.CharField(
        max_length=200, blank=True, help_text="The replay playlist, relative to the media root."
    )
    thumbnail = models.CharField(
        max_length=200, blank=True, help_text="The latest still, relative to the media root."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="broadcast_status_created"),
            models.Index(fields=["broadcaster", "-created_at"], name="broadcast_owner_created"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_live(self) -> bool:
        return self.status == BroadcastStatus.LIVE

    @property
    def stream_name(self) -> str:
        """The public name the media server publishes this broadcast's video under."""
        return f"broadcast-{self.pk}"


class Reaction(models.Model):
    """One tap. A viewer may react many times, as on live video."""

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reactions"
    )
    kind = models.CharField(max_length=16, choices=ReactionKind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["broadcast", "created_at"], name="reaction_bc_created")]

    def __str__(self) -> str:
        return f"{self.kind} on {self.broadcast_id}"


class ReactionTotal(models.Model):
    """Running count per broadcast and kind, updated in the same transaction as the rows.

    Incremented with ``F()`` so concurrent writers stay exact; pages and the API read six rows
    instead of counting millions.
    """

    broadcast = models.ForeignKey(
        Broadcast, on_delete=models.CASCADE, related_name="reaction_totals"
    )
    kind = models.CharField(max_length=16, choices=ReactionKind.choices)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["broadcast", "kind"], name="reaction_total_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.count}"


class Comment(models.Model):
    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments"
    )
    text = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    is_removed = models.BooleanField(default=False)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    removed_at = models.DateTimeField(null=True, blank=True)
    # Held for review (a hold word): shown to nobody but moderators until one approves it.
    is_held = models.BooleanField(default=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["broadcast", "is_removed", "created_at", "id"], name="comment_bc_visible"
            )
        ]

    def __str__(self) -> str:
        return self.text[:50]


class BroadcastBan(models.Model):
    """A user barred from commenting and reacting on one broadcast: until ``until`` (a
    time-out) or for good (a ban, ``until`` null)."""

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="bans")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    until = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["broadcast", "user"], name="broadcast_ban_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.broadcast_id} until {self.until or 'forever'}"


class ModerationAction(models.Model):
    """The audit trail: who did what to whom, on which broadcast."""

    class Action(models.TextChoices):
        REMOVE_COMMENT = "remove_comment", "Removed a comment"
        RESTORE_COMMENT = "restore_comment", "Restored a comment"
        PIN_COMMENT = "pin_comment", "Pinned a comment"
        UNPIN_COMMENT = "unpin_comment", "Unpinned a comment"
        TIMEOUT = "timeout", "Timed out a user"
        BAN = "ban", "Banned a user"
        UNBAN = "unban", "Lifted a ban"
        SETTINGS = "settings", "Changed moderation settings"
        APPROVE_COMMENT = "approve_comment", "Approved a comment"
        APPOINT_MODERATOR = "appoint_moderator", "Appointed a moderator"
        REMOVE_MODERATOR = "remove_moderator", "Removed a moderator"

    broadcast = models.ForeignKey(
        Broadcast, on_delete=models.CASCADE, related_name="moderation_actions"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    action = models.CharField(max_length=24, choices=Action.choices)
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    comment = models.ForeignKey(
        Comment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["broadcast", "-created_at"], name="modaction_bc_created")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.created_at:%Y-%m-%d %H:%M})"


class BroadcastModerator(models.Model):
    """A user who moderates one broadcast: removes and pins comments, times out and bans."""

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="moderators")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    appointed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["broadcast", "user"], name="broadcast_moderator_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} moderates {self.broadcast_id}"


class StandingModerator(models.Model):
    """A user who moderates every broadcast of one broadcaster, present and future."""

    broadcaster = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="standing_moderators"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["broadcaster", "user"], name="standing_moderator_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} moderates for {self.broadcaster_id}"


class CommentReport(models.Model):
    """A viewer reported a comment: it waits in the broadcast's review queue."""

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["comment", "reporter"], name="comment_report_unique")
        ]

    def __str__(self) -> str:
        return f"{self.reporter_id} reported {self.comment_id}"
