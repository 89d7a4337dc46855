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
        self._topics: defaultdict[str, dict[str, float]] = defaultdict(dict)
        self._users: defaultdict[int, dict[tuple[str, str], float]] = defaultdict(dict)
        self._last_seen: dict[int, float] = {}

    def heartbeat(self, connections: Iterable[PresenceConnection]) -> None:
        now = self.clock()
        deadline = now + self.ttl
        with self._lock:
            for conn in connections:
                self._topics[conn.topic][conn.connection_id] = deadline
                if conn.user_id is not None:
                    self._users[conn.user_id][conn.topic, conn.connection_id] = deadline
                    self._last_seen[conn.user_id] = now

    def remove(self, connections: Iterable[PresenceConnection]) -> None:
        now = self.clock()
        with self._lock:
            for conn in connections:
                self._topics[conn.topic].pop(conn.connection_id, None)
                if conn.user_id is not None:
                    self._users[conn.user_id][conn.topic, conn.connection_id] = now + self.grace
                    self._last_seen[conn.user_id] = now

    def viewer_counts(self, topics: Iterable[str]) -> dict[str, int]:
        now = self.clock()
        with self._lock:
            return {topic: len(self._purge(self._topics, topic, now)) for topic in topics}

    def users_on_topic(self, topic: str, user_ids: Iterable[int]) -> set[int]:
        now = self.clock()
        with self._lock:
            return {
                uid
                for uid in user_ids
                if any(t == topic for t, _ in self._purge(self._users, uid, now))
            }

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

    async def ausers_presence(self, user_ids: Iterable[int]) -> dict[int, UserState]:
        return self.users_presence(user_ids)
