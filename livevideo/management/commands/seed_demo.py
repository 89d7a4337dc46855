"""``manage.py seed_demo``: demo accounts and broadcasts, made through the services.

Idempotent: accounts and broadcasts that already exist (by username, by title) are left alone,
so running it twice changes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from livevideo import selectors, services
from livevideo.models import Broadcast

PASSWORD = "demo-password-123"
BROADCASTER = "demo_broadcaster"
VIEWERS = {"alice": "Alice", "bob": "Bob"}
LIVE_TITLE = "Live now: building a real-time video platform"
SCHEDULED_TITLE = "Tomorrow: Q&A with the team"
ENDED_TITLE = "Yesterday: launch recap"
LIVE_COMMENTS = [
    ("alice", "Hello from Lisbon! 👋"),
    ("bob", "Audio is crystal clear today."),
    ("alice", "How do you keep reaction counts exact under load?"),
    ("bob", "<b>Markup</b> in a comment stays plain text."),
]
LIVE_TAPS = [
    ("alice", "like"),
    ("alice", "love"),
    ("alice", "insightful"),
    ("bob", "like"),
    ("bob", "celebrate"),
    ("bob", "funny"),
    ("bob", "like"),
]


class Command(BaseCommand):
    help = "Create demo accounts and broadcasts (live, scheduled, ended). Safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            broadcaster = self._user(BROADCASTER, "Demo Broadcaster", is_staff=True)
            # Staff in this group can use the admin for their own broadcasts only.
            services.broadcaster_grant(user=broadcaster)
            viewers = {name: self._user(name, display) for name, display in VIEWERS.items()}
            self._live(broadcaster, viewers)
            self._scheduled(broadcaster)
            self._ended(broadcaster, viewers)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Sign in with:"))
        self.stdout.write(f"  broadcaster (studio and /admin/): {BROADCASTER} / {PASSWORD}")
        for name in VIEWERS:
            self.stdout.write(f"  viewer: {name} / {PASSWORD}")

    def _user(
        self, username: str, display_name: str, *, is_staff: bool = False
    ) -> AbstractBaseUser:
        existing = get_user_model().objects.filter(username=username).first()
        if existing is not None:
            return existing
        self.stdout.write(f"Created user {username}")
        return services.user_create(
            username=username, password=PASSWORD, display_name=display_name, is_staff=is_staff
        )

    def _existing(self, broadcaster: AbstractBaseUser, title: str) -> Broadcast | None:
        return selectors.broadcast_list().filter(broadcaster=broadcaster, title=title).first()

    def _live(self, broadcaster: AbstractBaseUser, viewers: dict[str, AbstractBaseUser]) -> None:
        if self._existing(broadcaster, LIVE_TITLE):
            return
        broadcast = services.broadcast_create(
            broadcaster=broadcaster,
            title=LIVE_TITLE,
            description="A walk through reactions, comments and presence, live.",
        )
        services.broadcast_start(broadcast=broadcast, actor=broadcaster)
        for author, text in LIVE_COMMENTS:
            services.comment_create(broadcast=broadcast, author=viewers[author], text=text)
        services.reactions_record(
            broadcast=broadcast, taps=[(viewers[user], kind) for user, kind in LIVE_TAPS]
        )
        self.stdout.write(f"Created live broadcast #{broadcast.pk}")

    def _scheduled(self, broadcaster: AbstractBaseUser) -> None:
        if self._existing(broadcaster, SCHEDULED_TITLE):
            return
        broadcast = services.broadcast_create(
            broadcaster=broadcaster,
            title=SCHEDULED_TITLE,
            description="Bring your questions.",
            scheduled_for=timezone.now() + timedelta(days=1),
        )
        self.stdout.write(f"Created scheduled broadcast #{broadcast.pk}")

    def _ended(self, broadcaster: AbstractBaseUser, viewers: dict[str, AbstractBaseUser]) -> None:
        if self._existing(broadcaster, ENDED_TITLE):
            return
        broadcast = services.broadcast_create(
            broadcaster=broadcaster, title=ENDED_TITLE, description="What we shipped."
        )
        services.broadcast_start(broadcast=broadcast, actor=broadcaster)
        services.comment_create(broadcast=broadcast, author=viewers["bob"], text="Great launch!")
        services.broadcast_end(broadcast=broadcast, actor=broadcaster)
        self.stdout.write(f"Created ended broadcast #{broadcast.pk}")
