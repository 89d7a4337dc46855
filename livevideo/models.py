"""The product's data: broadcasts, reactions (with exact running totals) and comments."""

from __future__ import annotations

from django.conf import settings
from django.db import models


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

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["broadcast", "is_removed", "created_at", "id"], name="comment_bc_visible"
            )
        ]

    def __str__(self) -> str:
        return self.text[:50]
