"""In-process presence store: the embedded default (one process is the whole deployment)."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from presence.backends.base import PresenceConnection, PresenceStore, UserState


class MemoryPresenceStore(PresenceStore):
    """Dicts of deadlines behind a lock: the tracker writes from the event loop while sync REST
    views read from worker threads.
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        # topic -> (viewer, connection id) -> deadline: the live connections, which count.
        self._topics: defaultdict[str, dict[tuple[str, str], float]] = defaultdict(dict)
        # topic -> (user id, connection id) -> deadline, kept ``grace`` past a close.
        self._audience: defaultdict[str, dict[tuple[int, str], float]] = defaultdict(dict)
        # user id -> (topic, connection id) -> deadline, kept ``grace`` past a close.
        self._users: defaultdict[int, dict[tuple[str, str], float]] = defaultdict(dict)
        self._last_seen: dict[int, float] = {}

    def heartbeat(self, connections: Iterable[PresenceConnection]) -> None:
        now = self.clock()
        deadline = now + self.ttl
        with self._lock:
            for conn in connections:
                self._topics[conn.topic][conn.viewer, conn.connection_id] = deadline
                if conn.user_id is not None:
                    self._hold(conn, deadline)
                    self._last_seen[conn.user_id] = now

    def remove(self, connections: Iterable[PresenceConnection]) -> None:
        now = self.clock()
        with self._lock:
            for conn in connections:
                self._topics[conn.topic].pop((conn.viewer, conn.connection_id), None)
                if conn.user_id is not None:
                    self._hold(conn, now + self.grace)
                    self._last_seen[conn.user_id] = now

    def _hold(self, conn: PresenceConnection, deadline: float) -> None:
        """Keep ``conn``'s user on its topic (and online) until ``deadline``."""
        assert conn.user_id is not None
        self._audience[conn.topic][conn.user_id, conn.connection_id] = deadline
        self._users[conn.user_id][conn.topic, conn.connection_id] = deadline

    def viewer_counts(self, topics: Iterable[str]) -> dict[str, int]:
        now = self.clock()
        with self._lock:
            return {
                topic: len({viewer for viewer, _ in self._purge(self._topics, topic, now)})
                for topic in topics
            }

    def users_on_topic(self, topic: str, user_ids: Iterable[int]) -> set[int]:
        now = self.clock()
        with self._lock:
            present = {uid for uid, _ in self._purge(self._audience, topic, now)}
        return present.intersection(user_ids)

    def users_present(self, topic: str, *, limit: int) -> set[int]:
        now = self.clock()
        latest: dict[int, float] = {}
        with self._lock:
            for (uid, _), deadline in self._purge(self._audience, topic, now).items():
                latest[uid] = max(deadline, latest.get(uid, deadline))
        return set(sorted(latest, key=latest.__getitem__, reverse=True)[:limit])

    def users_presence(self, user_ids: Iterable[int]) -> dict[int, UserState]:
        now = self.clock()
        with self._lock:
            return {
                uid: UserState(bool(self._purge(self._users, uid, now)), self._last_seen.get(uid))
                for uid in user_ids
            }

    @staticmethod
    def _purge(table: defaultdict[Any, dict[Any, float]], key: Any, now: float) -> dict[Any, float]:
        """Drop the lapsed entries under ``key``; return the live ones."""
        live = {k: deadline for k, deadline in table.get(key, {}).items() if deadline > now}
        if live:
            table[key] = live
        else:
            table.pop(key, None)
        return live

    # No I/O here, so the async twins run inline rather than hopping to a thread.

    async def aheartbeat(self, connections: Iterable[PresenceConnection]) -> None:
        self.heartbeat(connections)

    async def aremove(self, connections: Iterable[PresenceConnection]) -> None:
        self.remove(connections)

    async def aviewer_counts(self, topics: Iterable[str]) -> dict[str, int]:
        return self.viewer_counts(topics)

    async def ausers_on_topic(self, topic: str, user_ids: Iterable[int]) -> set[int]:
        return self.users_on_topic(topic, user_ids)

    async def ausers_present(self, topic: str, *, limit: int) -> set[int]:
        return self.users_present(topic, limit=limit)

    async def ausers_presence(self, user_ids: Iterable[int]) -> dict[int, UserState]:
        return self.users_presence(user_ids)
