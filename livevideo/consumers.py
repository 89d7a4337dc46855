"""A broadcast's real-time stream: what both transports ask, and the WebSocket consumer.

``ws/broadcasts/<id>/`` and ``sse/broadcasts/<id>/`` carry the topic
``broadcast.<id>``. An unknown broadcast is closed with 4404 (404 over SSE). Scheduled and
ended broadcasts can be watched too: a scheduled one's viewers see it go live, and an ended
one still gives its hello and replays what history holds, so a client that was cut off at
the end learns that it ended.

Over the WebSocket a signed-in viewer can react and comment: the same services as the REST
API run, and a refusal comes back as an ``error`` event with the service's code (``invalid``,
``forbidden``, ``conflict``, ``rate_limited``). A reaction is not acknowledged; the next
``reactions`` totals include it. A comment comes back to everyone as ``comment.created``, or,
held for review by a hold word, to its sender alone as ``comment.held``. Moderators act live
with the messages of ``livevideo.stream_moderation``. Reactions are handled concurrently (a
viewer's taps do not wait for each other's batches); the rest one at a time, in order.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from livevideo import ingest, selectors
from livevideo.converters import MAX_ID
from livevideo.errors import ServiceError
from livevideo.events import REACTIONS_EVENT
from livevideo.models import Broadcast
from livevideo.stream_moderation import ModerationMessages, client_error
from presence import tracker
from presence.selectors import atopic_viewer_count
from realtime.clientaddress import scope_client_address
from realtime.consumers import ClientError, StreamConsumer
from realtime.protocol import Event
from realtime.snapshots import TopicSnapshots
from realtime.transport import StreamHooks

# How old a hello's broadcast may be at most, for what changes with nothing announced on its
# topic in another process (announced changes are never missed: realtime.snapshots).
HELLO_MAX_AGE = 1.0


class BroadcastStream(StreamHooks):
    """The answers for one broadcast's stream, whatever the transport."""

    broadcast_id: int
    scope: dict[str, Any]  # the connection's ASGI scope, set by the transport

    async def get_topic(self) -> str | None:
        self.broadcast_id = int(self.route_kwargs["broadcast_id"])
        if self.broadcast_id > MAX_ID:
            # The stream routes take any number so that it is closed with 4404 (a 404 for
            # SSE) like any unknown id; the database could not even compare this one.
            return None
        # Whether it exists may be a moment old (the hello's read, after joining, is fresh).
        exists = await _details.get_recent(self.broadcast_id) is not None
        return selectors.broadcast_topic(self.broadcast_id) if exists else None

    async def get_hello_data(self) -> dict[str, Any]:
        broadcast = await _details.get(self.broadcast_id)
        if broadcast is not None:
            # The count changes with every viewer and is announced only after a debounce: the
            # one read with this viewer's presence write (or a later one) counts this viewer.
            topic = selectors.broadcast_topic(self.broadcast_id)
            viewers = tracker.viewers_counted(topic)
            if viewers is None:  # the store did not answer that write
                viewers = await atopic_viewer_count(topic)
            broadcast = {**broadcast, "viewers": viewers}
        return {"broadcast": broadcast, "you": await self._you(broadcast)}

    async def _you(self, broadcast: dict[str, Any] | None) -> dict[str, Any] | None:
        """This viewer's own state (role, barred); no database read for anonymous viewers."""
        if broadcast is None:
            return None
        user = self.user if self.user is not None else AnonymousUser()
        if not user.is_authenticated:
            return {"role": "anonymous", "barred": None}
        return await database_sync_to_async(selectors.viewer_state)(
            broadcast_id=broadcast["id"], broadcaster_id=broadcast["broadcaster"]["id"], user=user
        )

    async def stream_opened(self) -> None:
        await tracker.connection_opened(**self._presence())

    async def stream_closed(self) -> None:
        await tracker.connection_closed(**self._presence())

    def _presence(self) -> dict[str, Any]:
        assert self.connection is not None
        user = self.user if self.user is not None and self.user.is_authenticated else None
        return {
            "topic": self.connection.topic,
            "connection_id": self.connection.id,
            "user": selectors.user_data(user) if user is not None else None,
            # Anonymous viewers are counted once per client address.
            "client": scope_client_address(self.scope),
        }


def _broadcast_detail(broadcast_id: int) -> dict[str, Any] | None:
    broadcast = Broadcast.objects.select_related("broadcaster").filter(pk=broadcast_id).first()
    if broadcast is None:
        return None
    # Each hello puts in the count read with its viewer's own presence write (get_hello_data):
    # a count read here, shared and up to HELLO_MAX_AGE old, would only be thrown away.
    return selectors.broadcast_data(broadcast, viewers=0)


def _amended_detail(detail: dict[str, Any] | None, event: Event) -> dict[str, Any] | None:
    """The hello's broadcast after ``event``, as far as the event tells (None: read again).
    The viewer count and who came and went are not in it (each hello puts in the count read
    with its viewer's own presence write); newer reaction totals replace the older."""
    if detail is None:
        return None
    if event.type in (tracker.VIEWERS_EVENT, tracker.PRESENCE_EVENT):
        return detail
    if event.type == REACTIONS_EVENT:
        total = event.data.get("total")
        if not isinstance(total, int):
            return None
        newer = total > detail["reactions"]["total"]
        return {**detail, "reactions": event.data} if newer else detail
    return None


# Viewers connecting at once (a reconnect storm) share one read of the broadcast while nothing
# but snapshots that amend it is announced on its topic (realtime.snapshots): a thousand
# connects cost a few queries.
_details: TopicSnapshots[int, dict[str, Any] | None] = TopicSnapshots(
    database_sync_to_async(_broadcast_detail),
    topic_of=selectors.broadcast_topic,
    max_age=HELLO_MAX_AGE,
    amend=_amended_detail,
)


@receiver(post_save, sender=Broadcast, dispatch_uid="livevideo.consumers.broadcast_saved")
@receiver(post_delete, sender=Broadcast, dispatch_uid="livevideo.consumers.broadcast_deleted")
def _broadcast_changed(sender: type, *, instance: Broadcast, **kwargs: Any) -> None:
    """Edits announce nothing on the topic (a title, a description, a deletion): this process's
    next hello reads the broadcast again once they are committed."""
    transaction.on_commit(functools.partial(_details.forget, instance.pk), robust=True)


class BroadcastConsumer(ModerationMessages, BroadcastStream, StreamConsumer):
    """``ws/broadcasts/<id>/``: the stream, plus reactions and comments from the viewer and
    moderators' actions."""

    client_message_types = ("reaction", "comment")
    # A tap waits for its batch to be stored; the viewer's next taps and comments need not.
    concurrent_message_types = ("reaction",)

    async def receive_reaction(self, message: dict[str, Any]) -> None:
        """``{"type": "reaction", "kind": "like"}``: stored with the process's next batch of
        this broadcast's taps (``livevideo.ingest``), checked one by one as over REST, the
        client address's limit included."""
        with refusals_as_errors():
            await ingest.batcher(self.broadcast_id).tap(
                self.user, message.get("kind"), scope_client_address(self.scope)
            )

    async def receive_comment(self, message: dict[str, Any]) -> None:
        """``{"type": "comment", "text": "..."}``: stored with the event loop's next batch of
        comments, on any broadcasts (``livevideo.ingest``), checked one by one as over REST;
        everyone gets it as ``comment.created``, or its sender alone as ``comment.held`` when
        it waits for a moderator's review."""
        with refusals_as_errors():
            comment = await ingest.comment(
                self.broadcast_id, self.user, message.get("text"), scope_client_address(self.scope)
            )
        if comment.is_held:
            self.answer(message, "comment.held", selectors.comment_data(comment))


@contextlib.contextmanager
def refusals_as_errors() -> Iterator[None]:
    """A write's refusal, answered as the ``error`` event of the message that asked for it."""
    try:
        yield
    except ingest.BroadcastGone:
        raise ClientError("not_found", "This broadcast no longer exists.") from None
    except ServiceError as exc:
        raise client_error(exc) from None
