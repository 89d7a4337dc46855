"""Other code hears what the services change the way the real-time stream does: by connecting
a receiver to a ``livevideo.signals`` signal. Each committed change sends its signal once; a
change that rolls back sends none."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import transaction

from livevideo import services, signals
from livevideo.models import Broadcast, Comment
from livevideo.video import services as video_services

pytestmark = pytest.mark.django_db(transaction=True)

NAMES = {signal: name for name, signal in vars(signals).items() if signal in signals.ALL}


@pytest.fixture
def heard() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every signal sent meanwhile, by name, with its arguments: a receiver like any other."""
    received: list[tuple[str, dict[str, Any]]] = []

    def receiver(sender: type, signal: signals.CommitSignal, **kwargs: Any) -> None:
        received.append((NAMES[signal], kwargs))

    for signal in signals.ALL:
        signal.connect(receiver, dispatch_uid="test-signals")
    yield received
    for signal in signals.ALL:
        signal.disconnect(dispatch_uid="test-signals")


@pytest.fixture
def live(owner) -> Broadcast:
    broadcast = services.broadcast_create(broadcaster=owner, title="Signals")
    return services.broadcast_start(broadcast=broadcast, actor=owner)


@pytest.fixture
def comment(live, viewer) -> Comment:
    return services.comment_create(broadcast=live, author=viewer, text="hello")


def _changes(owner, viewer, stranger) -> dict[str, Callable[[Broadcast, Comment], Any]]:
    """One committed change per signal."""
    return {
        "comment_created": lambda b, c: services.comment_create(
            broadcast=b, author=viewer, text="again"
        ),
        "comment_removed": lambda b, c: services.comment_remove(comment=c, actor=owner),
        "comment_pinned": lambda b, c: services.comment_pin(comment=c, actor=owner),
        "reaction_recorded": lambda b, c: services.reaction_create(
            broadcast=b, user=viewer, kind="like"
        ),
        "broadcast_status_changed": lambda b, c: services.broadcast_end(broadcast=b, actor=owner),
        "broadcast_video_changed": lambda b, c: video_services.ingest_publish_done(
            name=b.stream_key
        ),
        "chat_rules_changed": lambda b, c: services.moderation_settings_update(
            broadcast=b, actor=owner, slow_mode_seconds=5, blocked_words="", allow_links=True
        ),
        "viewer_barred": lambda b, c: services.user_timeout(
            broadcast=b, actor=owner, user=viewer, seconds=60
        ),
        "review_queue_changed": lambda b, c: services.comment_report(comment=c, reporter=stranger),
    }


@pytest.mark.parametrize("name", sorted(NAMES.values()))
def test_each_committed_change_sends_its_signal_once(
    name, live, comment, owner, viewer, stranger, heard
):
    _changes(owner, viewer, stranger)[name](live, comment)

    assert [signal for signal, _ in heard] == [name]


def test_the_receiver_gets_what_changed(live, viewer, heard):
    comment = services.comment_create(broadcast=live, author=viewer, text="hi")
    services.reaction_create(broadcast=live, user=viewer, kind="love")

    assert heard == [
        ("comment_created", {"comment": comment}),
        ("reaction_recorded", {"broadcast_id": live.pk, "counts": {"love": 1}}),
    ]


def test_a_change_that_rolls_back_sends_nothing(live, viewer, heard):
    def comment_then_fail() -> None:
        with transaction.atomic():
            services.comment_create(broadcast=live, author=viewer, text="never seen")
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        comment_then_fail()

    assert heard == []
    assert not Comment.objects.filter(text="never seen").exists()


def test_signals_wait_for_the_outer_transaction(live, viewer, heard):
    with transaction.atomic():
        services.comment_create(broadcast=live, author=viewer, text="later")
        assert heard == []

    assert [signal for signal, _ in heard] == ["comment_created"]


def test_a_broken_receiver_spares_the_others(live, viewer, heard, caplog):
    def broken(sender: type, **kwargs: Any) -> None:
        raise ValueError("webhook down")

    signals.comment_created.connect(broken, dispatch_uid="test-broken")
    try:
        services.comment_create(broadcast=live, author=viewer, text="still heard")
    finally:
        signals.comment_created.disconnect(dispatch_uid="test-broken")

    assert [signal for signal, _ in heard] == ["comment_created"]
    assert "webhook down" in caplog.text
