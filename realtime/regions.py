"""What the regions backend (``realtime.backends.regions``) says over NATS, and to whom.

Subjects, under ``REALTIME["KEY_PREFIX"]`` (``rt``):

- ``rt.ev.<topic>``: a topic's events as their home region numbered them (the body is the
  encoded event, the same bytes a client gets). A region's server processes subscribe it in
  one queue group per region (the group is the region's name) while they have viewers of the
  topic, so NATS hands each event to one process per region that watches it, and its
  gateways carry it only to those regions.
- ``rt.append.<region>``: "number and store these events of a topic, in order" (one request
  for the events a process queued meanwhile), to the first region in the topic's order of
  succession that answers (its home while reachable); any of its processes answers (queue
  group ``serve``), in one script, and answers the numbered events.
- ``rt.replay.<region>``: "what do you keep after id N" for topics numbered in ``region``.
- ``rt.renew.<region>``: "you number a topic in a lineage older than mine" (to its home).

A numbered event (and a tick) carries its lineage in headers: ``Epoch``, the value its id
counter started from, and ``Owner``, the region numbering it (docs/scale-out.md, "When a
region is out of reach").

Snapshots (no id) go out on ``rt.ev.<topic>`` too, with an ``Origin`` header naming the region
that announced them, which does not announce them again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import nats
from nats.aio.client import Client

from realtime.backends.base import Entry, Replay
from realtime.protocol import Event, decode_event

logger = logging.getLogger(__name__)

SERVE_GROUP = "serve"
ORIGIN = "Origin"
LAST_ID = "Last-Id"
EPOCH = "Epoch"
OWNER = "Owner"
TICK_INTERVAL = 1.0  # seconds between two ticks of a topic
TICK_FOR = 600.0  # seconds a topic is ticked after its last event


class RegionUnreachable(ConnectionError):
    """Another region did not answer (the link is down, or the region is)."""


class RegionSilent(RegionUnreachable):
    """A region did not answer in time (NATS knew where to send the request: no answer came
    back); one that nobody serves any more (dead, or cut off) fails at once instead."""


def first_region(topic: str, regions: Sequence[str]) -> str:
    """The default ``REALTIME["REGION_HOME"]``: every topic is homed in the first region."""
    return regions[0]


def succession(home: str, regions: Sequence[str]) -> list[str]:
    """The regions that number a topic homed in ``home``, in order of precedence: the home,
    then the regions after it in ``regions``, then those before it."""
    at = list(regions).index(home)
    return [*regions[at:], *regions[:at]]


@dataclass(frozen=True, slots=True)
class Lineage:
    """One run of a topic's ids: ``epoch``, the value its counter started from (above every
    id its region had seen), and ``owner``, the region that numbers it. Of two lineages of a
    topic the one with the higher epoch is the newer."""

    epoch: int
    owner: str

    @classmethod
    def of(cls, headers: dict[str, str] | None) -> Lineage | None:
        """The lineage a NATS message's headers name (None: a snapshot)."""
        if not headers or EPOCH not in headers:
            return None
        return cls(int(headers[EPOCH]), headers[OWNER])

    def headers(self, **more: str) -> dict[str, str]:
        return {EPOCH: str(self.epoch), OWNER: self.owner, **more}


class Subjects:
    """The NATS subjects of one deployment (its key prefix)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def events(self, topic: str) -> str:
        if not topic or any(c.isspace() or c in "*>" for c in topic):
            raise ValueError(f"a topic that cannot be a NATS subject: {topic!r}")
        return f"{self.prefix}.ev.{topic}"

    def append(self, region: str) -> str:
        return f"{self.prefix}.append.{region}"

    def replay(self, region: str) -> str:
        return f"{self.prefix}.replay.{region}"

    def renew(self, region: str) -> str:
        return f"{self.prefix}.renew.{region}"


class Ticks:
    """The topics one event loop numbered events of lately, with their newest ids and
    lineages. Every ``interval`` seconds, for ``TICK_FOR`` seconds after a topic's last event,
    a tick (an empty message with ``Last-Id`` and lineage headers) tells the regions that
    watch it (only those: the gateways' interest routing) where it stands, so a region that
    missed the last events (a partition) fills them in, or learns of a newer lineage, without
    waiting for the next event."""

    def __init__(self, subjects: Subjects, interval: float) -> None:
        self.subjects, self.interval = subjects, interval
        self._newest: dict[str, tuple[int, Lineage, float]] = {}
        self._task: asyncio.Task[None] | None = None

    def note(self, topic: str, event_id: int, lineage: Lineage, client: Client) -> None:
        loop = asyncio.get_running_loop()
        self._newest[topic] = (event_id, lineage, loop.time())
        if self._task is None:
            self._task = loop.create_task(self._tick(client))

    async def _tick(self, client: Client) -> None:
        loop = asyncio.get_running_loop()
        while self._newest:
            await asyncio.sleep(self.interval)
            for topic, (event_id, lineage, at) in list(self._newest.items()):
                if loop.time() - at > TICK_FOR:
                    del self._newest[topic]
                elif not client.is_closed:
                    await tick(client, self.subjects.events(topic), event_id, lineage)
        self._task = None

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()


async def tick(client: Client, subject: str, event_id: int, lineage: Lineage) -> None:
    """Say that ``lineage`` of the subject's topic has reached ``event_id``."""
    await client.publish(subject, b"", headers=lineage.headers(**{LAST_ID: str(event_id)}))


def encode_appends(
    entries: Sequence[Entry], *, asker: tuple[int, int], hops: int, until: float
) -> dict[str, Any]:
    """An ``rt.append`` request: events of one topic to number in order, the newest lineage
    the askers hold, how many regions it passed, and until when (wall clock, ms) its asker
    waits: one that arrives later (held by a partition) is not numbered, as its asker
    numbered the events itself meanwhile."""
    return {
        "until": until,
        "topic": entries[0][0],
        "events": [
            {"type": event_type, "ts": ts, "data_json": data_json}
            for _, event_type, _, ts, data_json in entries
        ],
        "epoch": asker[0],
        "seq": asker[1],
        "hops": hops,
    }


def decode_appends(raw: dict[str, Any]) -> list[Entry]:
    """The events of an ``rt.append`` request; one that carries a single event in itself is
    from a process older than batches (regions are deployed one after another)."""
    topic = raw["topic"]
    return [
        (topic, e["type"], json.loads(e["data_json"]), e["ts"], e["data_json"])
        for e in raw.get("events", [raw])
    ]


def encode_events(events: Sequence[Event], raw: dict[str, Any]) -> bytes:
    """The answer to the ``rt.append`` request ``raw``: the numbered events, in order (the one
    event itself to a request older than batches)."""
    if "events" not in raw:
        return events[0].encoded.encode()
    return json.dumps([event.encoded for event in events]).encode()


def decode_events(body: bytes) -> list[Event]:
    return [decode_event(e) for e in json.loads(body)]


def encode_replay(replay: Replay) -> bytes:
    return json.dumps(
        {
            "last_id": replay.last_id,
            "reset": replay.reset,
            "events": [event.encoded for event in replay.events],
        }
    ).encode()


def decode_replay(body: bytes) -> Replay:
    raw = json.loads(body)
    return Replay(raw["last_id"], [decode_event(e) for e in raw["events"]], raw["reset"])


class NatsLinks:
    """One NATS connection per event loop (a connection belongs to the loop that opened it),
    made on first use; ``serve`` runs once on each new connection (it subscribes the region's
    services)."""

    def __init__(self, url: str, serve: Callable[[Client], Awaitable[None]]) -> None:
        if not url:
            raise ValueError("the regions backend needs REALTIME['NATS_URL']")
        self.url = url
        self._serve = serve
        self._clients: dict[asyncio.AbstractEventLoop, asyncio.Task[Client]] = {}
        self._lock = threading.Lock()

    async def client(self) -> Client:
        loop = asyncio.get_running_loop()
        with self._lock:
            connecting = self._clients.get(loop)
            if connecting is None:
                for stale in [other for other in self._clients if other.is_closed()]:
                    del self._clients[stale]
                connecting = self._clients[loop] = loop.create_task(self._connect())
        try:
            return await asyncio.shield(connecting)
        except Exception:
            with self._lock:
                if self._clients.get(loop) is connecting:
                    del self._clients[loop]  # the next call tries again
            raise

    async def _connect(self) -> Client:
        async def error(exc: Exception) -> None:
            logger.warning("realtime: NATS (%s): %s", self.url, exc)

        client = await nats.connect(
            self.url,
            name=f"realtime-{os.getpid()}",
            connect_timeout=2,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            error_cb=error,
        )
        await self._serve(client)
        return client

    async def close(self) -> None:
        """Close the running loop's connection (tests; a server's closes with its process)."""
        with self._lock:
            connecting = self._clients.pop(asyncio.get_running_loop(), None)
        if connecting is not None:
            client = await connecting
            await client.close()


async def request(client: Client, subject: str, body: dict[str, Any], *, wait: float) -> bytes:
    """Ask ``subject``; a home that does not answer in ``wait`` seconds is
    ``RegionUnreachable``."""
    try:
        reply = await client.request(subject, json.dumps(body).encode(), timeout=wait)
    except (nats.errors.TimeoutError, TimeoutError) as exc:
        raise RegionSilent(f"no answer on {subject} in {wait} s") from exc
    except nats.errors.Error as exc:
        raise RegionUnreachable(f"no answer on {subject}: {exc!r}") from exc
    return reply.data
