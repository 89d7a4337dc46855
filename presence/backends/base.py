"""The presence store contract, shared by every backend.

A store keeps, for every connection, a deadline: the connection counts as live until then. The
tracker heartbeats each live connection, pushing its deadline to ``now + ttl``; a connection
that is closed stops counting at once, but its user stays on the topic for ``grace`` more
seconds, so a reconnect inside that window shows no offline at all. A process that dies simply
stops heartbeating: its connections lapse within ``ttl`` and leave no ghosts.

A viewer count counts people, not connections (``PresenceConnection.viewer``): a signed-in user
is one viewer however many tabs they hold, and anonymous connections count once per client
address. A closed connection stops counting at once unless its viewer still has another live
connection to the topic, in this process or any other.

Times are floats in seconds from the injected ``clock`` (``time.time`` by default), so tests
move time forward instead of sleeping.

A store that cannot reach its storage (down, or too slow to answer) raises
``StoreUnavailable``, never hangs: readers decide how to degrade.

Async twins (``a<name>``) default to running the sync method in a thread; a backend with a
native async client or with no I/O overrides them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from asgiref.sync import sync_to_async

if TYPE_CHECKING:
    from presence.conf import PresenceConfig


class StoreUnavailable(Exception):
    """The store's storage did not answer in time."""


@dataclass(frozen=True, slots=True)
class PresenceConnection:
    """One viewer's connection to a topic; ``user_id`` is None for anonymous viewers.

    ``connection_id`` must be unique across the deployment (channel names are); ``topic`` must
    not contain a newline (stores use it as a separator).
    """

    topic: str
    connection_id: str
    user_id: int | None = None
    client: str | None = None  # the client's address (anonymous viewers are counted by it)

    @property
    def viewer(self) -> str:
        """Whom the connection counts as: its user, else its client address, else itself (an
        anonymous connection whose address is unknown)."""
        if self.user_id is not None:
            return f"u:{self.user_id}"
        if self.client:
            return f"a:{self.client}"
        return f"c:{self.connection_id}"


class UserState(NamedTuple):
    online: bool
    last_seen: float | None


class PresenceStore:
    """Base class: holds the timing rules; subclasses provide the storage."""

    def __init__(self, *, ttl: float, grace: float, clock: Callable[[], float] = time.time):
        if grace > ttl:
            raise ValueError("the grace period cannot exceed the heartbeat ttl")
        self.ttl = ttl
        self.grace = grace
        self.clock = clock

    @classmethod
    def from_settings(cls, config: PresenceConfig) -> PresenceStore:
        """Build from ``settings.PRESENCE``; its ``OPTIONS`` go to the backend's constructor."""
        grace = config.grace_period
        return cls(ttl=config.heartbeat_interval + grace, grace=grace, **config.options)

    # Methods that subclasses must implement.

    def heartbeat(self, connections: Iterable[PresenceConnection]) -> None:
        """Mark each connection live until ``now + ttl``, its user online on its topic as long,
        and record ``now`` as the user's last_seen. Many connections go in one batch.
        """
        raise NotImplementedError("subclasses of PresenceStore must provide a heartbeat() method")

    def remove(self, connections: Iterable[PresenceConnection]) -> None:
        """Each connection closed: it stops counting now; its user stays on its topic (and
        online) until ``now + grace`` unless another connection keeps them; last_seen = now.
        Many connections go in one batch.
        """
        raise NotImplementedError("subclasses of PresenceStore must provide a remove() method")

    def viewer_counts(self, topics: Iterable[str]) -> dict[str, int]:
        """Viewers (distinct ``PresenceConnection.viewer``) with a live connection, per topic,
        exact across processes; lapsed connections are purged."""
        raise NotImplementedError(
            "subclasses of PresenceStore must provide a viewer_counts() method"
        )

    def users_on_topic(self, topic: str, user_ids: Iterable[int]) -> set[int]:
        """Those of ``user_ids`` with a live or still-in-grace connection to ``topic``."""
        raise NotImplementedError(
            "subclasses of PresenceStore must provide a users_on_topic() method"
        )

    def users_present(self, topic: str, *, limit: int) -> set[int]:
        """The signed-in users with a live or still-in-grace connection to ``topic``: at most
        ``limit`` of them, the most recently heartbeated first when there are more."""
        raise NotImplementedError(
            "subclasses of PresenceStore must provide a users_present() method"
        )

    def users_presence(self, user_ids: Iterable[int]) -> dict[int, UserState]:
        """Online state (any live or in-grace connection) and last_seen of each user."""
        raise NotImplementedError(
            "subclasses of PresenceStore must provide a users_presence() method"
        )

    def close(self) -> None:
        """Release connections to the storage (at shutdown, and in tests); optional."""

    # Optional: a store that can do these in one round trip says so by overriding them.

    def change(
        self, opened: Iterable[PresenceConnection], closed: Iterable[PresenceConnection]
    ) -> dict[str, int]:
        """``heartbeat(opened)``, then ``remove(closed)``, then the ``viewer_counts`` of their
        topics (what the tracker writes for the connections of a moment, and the counts its
        viewers' ``hello`` shows)."""
        opened, closed = list(opened), list(closed)
        if opened:
            self.heartbeat(opened)
        if closed:
            self.remove(closed)
        return self.viewer_counts(topics_of(opened + closed))

    # Optional: a store spread over several regions (``presence.backends.regions``) tells the
    # other regions its share of a topic and takes in theirs; a store of one region has
    # nothing to tell.

    async def ashare(self, topic: str) -> None:
        """Tell the regions that watch ``topic`` this region's share of it (its viewer count
        and users), if it changed since this region last told them or is due again."""

    async def awatch(self, topic: str, changed: Callable[[str], None]) -> None:
        """Take in the other regions' shares of ``topic`` from now on (this process has
        connections to it), calling ``changed(topic)`` after each."""

    async def aunwatch(self, topic: str) -> None:
        """Stop taking in shares of ``topic`` (this process has no connection to it left)."""

    # Async twins.

    async def aheartbeat(self, connections: Iterable[PresenceConnection]) -> None:
        await sync_to_async(self.heartbeat)(list(connections))

    async def aremove(self, connections: Iterable[PresenceConnection]) -> None:
        await sync_to_async(self.remove)(list(connections))

    async def aviewer_counts(self, topics: Iterable[str]) -> dict[str, int]:
        return await sync_to_async(self.viewer_counts)(list(topics))

    async def achange(
        self, opened: Iterable[PresenceConnection], closed: Iterable[PresenceConnection]
    ) -> dict[str, int]:
        opened, closed = list(opened), list(closed)
        if opened:
            await self.aheartbeat(opened)
        if closed:
            await self.aremove(closed)
        return await self.aviewer_counts(topics_of(opened + closed))

    async def ausers_on_topic(self, topic: str, user_ids: Iterable[int]) -> set[int]:
        return await sync_to_async(self.users_on_topic)(topic, list(user_ids))

    async def ausers_present(self, topic: str, *, limit: int) -> set[int]:
        return await sync_to_async(self.users_present)(topic, limit=limit)

    async def ausers_presence(self, user_ids: Iterable[int]) -> dict[int, UserState]:
        return await sync_to_async(self.users_presence)(list(user_ids))

    async def aclose(self) -> None:
        self.close()


def topics_of(connections: list[PresenceConnection]) -> list[str]:
    """The topics of ``connections``, each once, in order."""
    return list(dict.fromkeys(connection.topic for connection in connections))
