"""The regions backend: one broadcast, several regions, the same events with the same ids
everywhere, and per event at most one message to each region that has viewers of it.

Each region has its own Redis (``REDIS_URL``: history and fan-out for its server processes,
exactly the Redis backend) and its own NATS server (``NATS_URL``), whose gateways join the
regions; ``REGION`` names this process's region and ``REGIONS`` every region. Each topic has a
home region (``REGION_HOME``, a rule from the topic to a region's name): its Redis numbers the
topic's events, so a topic has one id space wherever it is watched.

- Publishing in the home region appends to the local Redis as the Redis backend does (its
  processes hear it through Redis pub/sub), then publishes the numbered event once to NATS.
  Elsewhere, publishing asks the home to append it (a NATS request to the home's processes).
- A region's processes subscribe a topic's NATS subject while they have viewers of it, in one
  queue group per region. NATS gateways run in interest-only mode, so an event crosses to a
  region only while it has such a subscription, and only once; there one process copies it
  into the region's Redis under the same id (``IMPORT_LUA``, idempotent), which announces it
  to the region's processes as if it had been appended there.
- An event whose id does not follow the region's copy (messages lost in a partition, a region
  that just started watching) is filled in from the home's history first (a NATS request);
  when the home no longer keeps them the region's copy starts again from that event, and the
  hub resets the clients that were behind it: never a silent gap.
- A client that resumes in a region whose copy does not cover its ``last_event_id`` (it moved
  from another region) is answered from the home's history.

Why NATS gateways rather than a Redis per region fed by the publisher: docs/scale-out.md,
"Regions".
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from django.utils.module_loading import import_string
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from realtime.backends.base import HistoryStore, Replay
from realtime.backends.pubsub import Feed
from realtime.backends.redis import RETAIN_LUA, RedisHistory, RedisHub
from realtime.clients import redis_client
from realtime.conf import RealtimeConfig
from realtime.protocol import Event, decode_event
from realtime.regions import (
    LAST_ID,
    ORIGIN,
    SERVE_GROUP,
    TICK_INTERVAL,
    NatsLinks,
    RegionUnreachable,
    Subjects,
    Ticks,
    decode_replay,
    encode_replay,
    request,
)
from realtime.runtime import runtime

logger = logging.getLogger(__name__)

# KEYS: the topic's seq, log and start; ARGV: the event's id and encoded event, the size, the
# ttl, the channel, '1' to start the copy again from this event, the publish command.
# Returns 1 (kept and announced), 0 (known already) or minus the copy's last id (a gap).
IMPORT_LUA = (
    b"""
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local id = tonumber(ARGV[1])
local event = ARGV[2]
local restart = ARGV[6] == '1'
if not restart then
  if id <= seq then
    return 0
  end
  if seq > 0 and id ~= seq + 1 then
    return -seq
  end
end
if seq == 0 or restart then
  redis.call('DEL', KEYS[2])
  redis.call('SET', KEYS[3], string.format('%d', id - 1))
end
redis.call('SET', KEYS[1], ARGV[1])
"""
    + RETAIN_LUA
    + b"return 1\n"
)


class RegionCopy(RedisHistory):
    """A region's Redis: the Redis backend's store, which can also take in events numbered
    by another region."""

    async def import_event(self, topic: str, event: Event, *, restart: bool = False) -> int:
        """Store and announce ``event`` under its own id: 1, 0 when known already, or minus
        the last id here when it does not follow it (nothing stored)."""
        args = [
            event.id, event.encoded, self.size, self.ttl, self.channel(topic),
            "1" if restart else "0", self.PUBLISH,
        ]  # fmt: skip
        client = redis_client(self.redis_url)
        return int(await client.eval(IMPORT_LUA, 3, *self._keys(topic), *args))


class RegionsHistory(HistoryStore):
    """History homed per topic in one region and copied to every region that watches it."""

    REQUEST_TIMEOUT = 5.0  # seconds to wait for the home region
    tick_interval = TICK_INTERVAL

    def __init__(self, **options: Any) -> None:
        config = RealtimeConfig.from_settings()
        self.region: str = options.pop("region", config.region)
        self.regions: tuple[str, ...] = tuple(options.pop("regions", config.regions))
        nats_url: str = options.pop("nats_url", config.nats_url)
        home = options.pop("home", config.region_home)
        self.local_snapshots = frozenset(
            options.pop("local_snapshots", config.region_local_snapshots)
        )
        super().__init__(**options)
        if self.region not in self.regions:
            raise ValueError(f"REALTIME['REGION'] {self.region!r} is not in REGIONS")
        self.local = RegionCopy(**options)
        self.subjects = Subjects(self.key_prefix)
        self._home = import_string(home) if isinstance(home, str) else home
        self.links = NatsLinks(nats_url, self._serve)

    async def start(self) -> None:
        """Connect to NATS now, so the topics homed here are numbered for other regions
        before any viewer or publish of this process's own has made the connection."""
        await self.links.client()

    def _ticks(self) -> Ticks:
        """The running loop's ticks of the topics it numbered lately."""
        return runtime().part((Ticks, id(self)), lambda: Ticks(self.subjects, self.tick_interval))

    def home(self, topic: str) -> str:
        """The region that numbers the topic's events."""
        return self._home(topic, self.regions)

    def make_hub(self, **options: Any) -> RegionsHub:
        return RegionsHub(self, **options)

    async def append(
        self, topic: str, event_type: str, data: dict[str, Any], *, ts: float, data_json: str
    ) -> Event:
        home = self.home(topic)
        if home == self.region:
            return await self._append_here(topic, event_type, data, ts=ts, data_json=data_json)
        body = {"topic": topic, "type": event_type, "ts": ts, "data_json": data_json}
        reply = await self._ask(self.subjects.append(home), body)
        return decode_event(reply)

    async def _append_here(
        self, topic: str, event_type: str, data: dict[str, Any], *, ts: float, data_json: str
    ) -> Event:
        """Number, keep and announce an event of a topic homed here, and send it to NATS."""
        event = await self.local.append(topic, event_type, data, ts=ts, data_json=data_json)
        client = await self.links.client()
        await client.publish(self.subjects.events(topic), event.encoded.encode())
        self._ticks().note(topic, event.id, client)  # type: ignore[arg-type]
        return event

    async def announce(self, topic: str, event: Event) -> None:
        await self.local.announce(topic, event)
        if event.type in self.local_snapshots:
            return
        await (await self.links.client()).publish(
            self.subjects.events(topic), event.encoded.encode(), headers={ORIGIN: self.region}
        )

    async def replay(self, topic: str, after: int | None) -> Replay:
        local = await self.local.replay(topic, after)
        home = self.home(topic)
        if after is None or not local.reset or home == self.region:
            return local
        # The client saw ids this region's copy lacks (it comes from another region).
        try:
            return await self._home_replay(home, topic, after)
        except RegionUnreachable as exc:
            logger.warning("realtime: %s: %s; the client resets", topic, exc)
            return local

    async def clear(self, topic: str) -> None:
        await self.local.clear(topic)

    # Copying events homed elsewhere into this region.

    async def receive(self, topic: str, event: Event) -> None:
        """An event of ``topic`` from NATS: copy it here, after what it follows."""
        found = await self.local.import_event(topic, event)
        if found < 0:
            await self._fill(topic, -found, then=event)

    async def check(self, topic: str, last_id: int) -> None:
        """The home says ``last_id`` is the topic's newest id: fill in what this region's copy
        lacks (events that a partition held back)."""
        last = (await self.local.replay(topic, None)).last_id
        if last < last_id:
            await self._fill(topic, last, then=None)

    async def catch_up(self, topic: str) -> None:
        """Bring this region's copy of a topic homed elsewhere up to date (its first viewers
        here, after a while without: the copy may be stale)."""
        last = (await self.local.replay(topic, None)).last_id
        if last:  # else new here: the copy starts with the next event
            await self._fill(topic, last, then=None)

    async def _fill(self, topic: str, after: int, *, then: Event | None) -> None:
        """Copy the home's events after ``after`` here, then ``then``. When the home no longer
        keeps them, the copy starts again (from ``then``, or the home's newest event), and
        the hubs reset the clients that were behind it."""
        home = self.home(topic)
        try:
            replay = await self._home_replay(home, topic, after)
            events = [] if replay.reset else list(replay.events)
            if replay.reset and then is None and replay.last_id:
                events = (await self._home_replay(home, topic, replay.last_id - 1)).events
        except RegionUnreachable as exc:
            logger.warning("realtime: %s: cannot fill in after %s (%s)", topic, after, exc)
            if then is None:
                return  # the next event or tick tries again
            replay, events = Replay(0, reset=True), []
        if replay.reset:
            logger.warning("realtime: %s: events after %s are lost here", topic, after)
        for n, event in enumerate([*events, *([then] if then else [])]):
            await self.local.import_event(topic, event, restart=replay.reset and n == 0)

    async def _home_replay(self, home: str, topic: str, after: int) -> Replay:
        body = {"topic": topic, "after": after}
        return decode_replay(await self._ask(self.subjects.replay(home), body))

    async def _ask(self, subject: str, body: dict[str, Any]) -> bytes:
        return await request(await self.links.client(), subject, body, wait=self.REQUEST_TIMEOUT)

    # What this region answers for the topics it homes.

    async def _serve(self, client: Client) -> None:
        await client.subscribe(
            self.subjects.append(self.region), queue=SERVE_GROUP, cb=self._serve_append
        )
        await client.subscribe(
            self.subjects.replay(self.region), queue=SERVE_GROUP, cb=self._serve_replay
        )

    async def _serve_append(self, message: Msg) -> None:
        raw = json.loads(message.data)
        if self.home(raw["topic"]) != self.region:
            # REGIONS or REGION_HOME differ between regions: never pass it on (it could loop).
            logger.error("realtime: asked to number %s, which is not homed here", raw["topic"])
            return
        try:
            event = await self._append_here(
                raw["topic"], raw["type"], json.loads(raw["data_json"]),
                ts=raw["ts"], data_json=raw["data_json"],
            )  # fmt: skip
        except Exception:
            logger.exception("realtime: could not append for another region")
            return  # the asker times out: its publish fails, logged there
        await message.respond(event.encoded.encode())

    async def _serve_replay(self, message: Msg) -> None:
        raw = json.loads(message.data)
        await message.respond(encode_replay(await self.local.replay(raw["topic"], raw["after"])))


class Arrivals:
    """A topic's events from NATS, copied into the region's Redis in id order. NATS keeps the
    order of each publisher, but two processes of the home may publish a topic's events in
    another order than their ids (and two processes here may copy them in another order): an
    event that does not follow the copy waits up to ``REORDER_WAIT`` seconds for those before
    it, and only then are they asked of the home."""

    REORDER_WAIT = 0.05

    def __init__(self, regions: RegionsHistory, topic: str) -> None:
        self.regions, self.topic = regions, topic
        self.held: dict[int, Event] = {}  # by id
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    async def take(self, event: Event) -> None:
        assert event.id is not None
        if await self.regions.local.import_event(self.topic, event) < 0:
            self.held[event.id] = event
            self._arm()
        elif self.held:
            await self._release()

    def _arm(self) -> None:
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.REORDER_WAIT, self._due, loop)

    def _due(self, loop: asyncio.AbstractEventLoop) -> None:
        self._task = loop.create_task(self._give_up())

    async def _release(self) -> None:
        """Copy the held events that follow the copy now."""
        for event_id in sorted(self.held):
            if await self.regions.local.import_event(self.topic, self.held[event_id]) < 0:
                return
            del self.held[event_id]

    async def _give_up(self) -> None:
        """The events before the first held one did not come: ask the home."""
        if self.held:
            await self.regions.receive(self.topic, self.held.pop(min(self.held)))
            await self._release()
        self._timer = None
        if self.held:
            self._arm()

    def stop(self) -> None:
        for pending in (self._timer, self._task):
            if pending is not None:
                pending.cancel()


class RegionsHub(RedisHub):
    """The Redis backend's hub on the region's Redis, which also subscribes each watched
    topic's NATS subject (for the region's queue group) while it has viewers."""

    def __init__(self, regions: RegionsHistory, **options: Any) -> None:
        super().__init__(regions.local, **options)
        self.regions = regions
        self._subscriptions: dict[str, tuple[Subscription, Arrivals]] = {}

    async def feed_for(self, topic: str) -> Feed:
        regions, arrivals = self.regions, Arrivals(self.regions, topic)

        async def arrived(message: Msg) -> None:
            try:
                headers = message.headers or {}
                if LAST_ID in headers:
                    await regions.check(topic, int(headers[LAST_ID]))
                    return
                event = decode_event(message.data)
                if event.id is not None:
                    await arrivals.take(event)
                elif headers.get(ORIGIN) != regions.region:
                    await regions.local.announce(topic, event)
            except Exception:
                logger.exception("realtime: could not take in an event of %s", topic)

        client = await regions.links.client()
        subscription = await client.subscribe(
            regions.subjects.events(topic), queue=regions.region, cb=arrived
        )
        self._subscriptions[topic] = (subscription, arrivals)
        await client.flush()
        if regions.home(topic) != regions.region:
            await regions.catch_up(topic)
        return await super().feed_for(topic)

    async def unfeed(self, topic: str) -> None:
        found = self._subscriptions.pop(topic, None)
        if found is not None:
            subscription, arrivals = found
            arrivals.stop()
            await subscription.unsubscribe()
        await super().unfeed(topic)
