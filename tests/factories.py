"""factory_boy factories for the product's models.

``BroadcastFactory`` builds a scheduled broadcast with its six reaction-total rows, as
``services.broadcast_create`` does; ``live=True`` / ``ended=True`` move it along.
"""

from __future__ import annotations

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from livevideo.models import (
    Broadcast,
    BroadcastStatus,
    Comment,
    ReactionKind,
    ReactionTotal,
)

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Sequence(lambda n: f"Person {n}")
    password = factory.django.Password(PASSWORD)


class BroadcasterFactory(UserFactory):
    """A user in the ``broadcasters`` group: may create broadcasts."""

    @factory.post_generation
    def broadcaster(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            from livevideo import services

            services.broadcaster_grant(user=self)


class BroadcastFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Broadcast
        skip_postgeneration_save = True

    class Params:
        live = factory.Trait(
            status=BroadcastStatus.LIVE,
            started_at=factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=5)),
        )
        ended = factory.Trait(
            status=BroadcastStatus.ENDED,
            started_at=factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1)),
            ended_at=factory.LazyFunction(timezone.now),
        )

    broadcaster = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Broadcast {n}")
    description = "A test broadcast."
    stream_url = "https://video.example.com/live.m3u8"

    @factory.post_generation
    def totals(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            ReactionTotal.objects.bulk_create(
                [ReactionTotal(broadcast=self, kind=kind) for kind in ReactionKind.values]
            )


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comment

    broadcast = factory.SubFactory(BroadcastFactory, live=True)
    author = factory.SubFactory(UserFactory)
    text = factory.Sequence(lambda n: f"Comment {n}")
