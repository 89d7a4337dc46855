"""The regions backend: one broadcast, several regions, the same events with the same ids
everywhere, and per event at most one message to each region that has viewers of it.

Each region has its own Redis (``REDIS_URL``: history and fan-out for its server processes,
exactly the Redis backend) and its own NATS server (``NATS_URL``), whose gateways join the
regions; ``REGION`` names this process's region and ``REGIONS`` every region. Each topic has a
home region (``REGION_HOME``, a rule from the topic to a region's name): its Redis numbers the
topic's events, so a topic has one id space wherever it is watched.

- Publishing in the home region appends to the local Redis as the Redis backend does (its
  processes hear it through Redis pub/sub), then publishes the numbered event once to NATS.
  Elsewhere, publishing asks the home to append it (a NATS request to the home's processes,
  one for every event of the topic queued meanwhile in the sender: one round trip for them all).
- A region's processes subscribe a topic's NATS subject while they have viewers of it, in one
  queue group per region (the backend's hub, ``realtime.backends.regionhub``). NATS gateways
  run in interest-only mode, so an event crosses to a region only while it has such a
  subscription, and only once; there one process copies it into the region's Redis under the
  same id (``IMPORT_LUA``, idempotent), which announces it to the region's processes as if it
  had been appended there.
- An event whose id does not follow the region's copy (messages lost in a partition, a region
  that just started watching) is filled in from the home's history first (a NATS request);
  when the home no longer keeps them the region's copy starts again from that event, and the
  hub resets the clients that were behind it: never a silent gap.
- A client that resumes in a region whose copy does not cover its ``last_event_id`` (it moved
  from another region) is answered from the history of the region that numbers the topic.
- When the home cannot be reached (it died, or a partition), the first region after it in the
  topic's order of succession (``realtime.regions.succession``) that can be numbers the topic,
  in a lineage of its own: ids above every id it has seen (``realtime.backends.regioncopy``).
  Copies follow the newest lineage, and their clients reset when they change; the home takes
  its topics back, in a lineage above every other, when it hears of another (docs/scale-out.md,
  "When a region is out of reach").

Why NATS gateways rather than a Redis per region fed by the publisher: docs/scale-out.md,
"Regions".
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from django.utils.module_loading import import_string
from nats.aio.client import Client
from nats.aio.msg import Msg

from realtime.backends.base import Entry, HistoryStore, Replay
from realtime.backends.regioncopy import OLDER, RegionCopy
from realtime.backends.regionhub import RegionsHub
from realtime.conf import RealtimeConfig
from realtime.protocol import Event, now_ms
from realtime.regions import (
    ORIGIN,
    SERVE_GROUP,
    TICK_INTERVAL,
    Lineage,
    NatsLinks,
    RegionSilent,
    RegionUnreachable,
    Subjects,
    Ticks,
    decode_appends,
    decode_events,
    decode_replay,
    encode_appends,
    encode_events,
    encode_replay,
    request,
    succession,
    tick,
)
from realtime.runtime import runtime

logger = logging.getLogger(__name__)


class RegionsHistory(HistoryStore):
    """History homed per topic in one region and copied to every region that watches it."""

    REQUEST_TIMEOUT = 5.0  # seconds to wait for another region's history
    APPEND_TIMEOUT = 2.0  # seconds a region has to number an event before the next is asked
    SILENT_FOR = 10.0  # seconds a region that timed out is passed over (not asked again)
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
        self._silent: dict[str, float] = {}  # region -> when it may be asked again (monotonic)

    async def start(self) -> None:
        """Connect to NATS now, so the topics homed here are numbered for other regions
        before any viewer or publish of this process's own has made the connection."""
        await self.links.client()

    def _ticks(self) -> Ticks:
        """The running loop's ticks of the topics it numbered lately."""
        return runtime().part((Ticks, id(self)), lambda: Ticks(self.subjects, self.tick_interval))

    def home(self, topic: str) -> str:
        """The region that numbers the topic's events while it can be reached."""
        return self._home(topic, self.regions)

    def make_hub(self, **options: Any) -> RegionsHub:
        return RegionsHub(self, **options)

    async def append(
        self, topic: str, event_type: str, data: dict[str, Any], *, ts: float, data_json: str
    ) -> Event:
        [event] = await self._number([(topic, event_type, data, ts, data_json)], asker=(0, 0))
        return event

    async def append_many(self, entries: Sequence[Entry]) -> None:
        # A topic's events go together, in order: one request to the region that numbers
        # them (one round trip across the link for the lot, not one each; the sender queues
        # what is published meanwhile), which numbers them in one script.
        runs: dict[str, list[Entry]] = {}
        for entry in entries:
            runs.setdefault(entry[0], []).append(entry)
        await asyncio.gather(*(self._number(run, asker=(0, 0)) for run in runs.values()))

    async def _number(
        self, entries: Sequence[Entry], *, asker: tuple[int, int], hops: int = 0
    ) -> list[Event]:
        """Have the first region that answers, in the topic's order of succession up to this
        one, number the events of one topic, in order (this one last: it always can). Each
        asked region is told the newest lineage the askers hold, so it starts a newer one
        when it is behind."""
        topic, read = entries[0][0], False
        for region in succession(self.home(topic), self.regions):
            if region == self.region:
                break
            if self._silent.get(region, 0.0) > time.monotonic():
                continue
            if not read:  # the lineage held here, read only when another region is asked
                seq, lineage = await self.local.position(topic)
                if lineage is not None and lineage.epoch > asker[0]:
                    asker = (lineage.epoch, seq)
                read = True
            try:
                until = now_ms() + self.APPEND_TIMEOUT * 1000
                body = encode_appends(entries, asker=asker, hops=hops + 1, until=until)
                client = await self.links.client()
                reply = await request(
                    client, self.subjects.append(region), body, wait=self.APPEND_TIMEOUT
                )
            except RegionSilent as exc:
                self._silent[region] = time.monotonic() + self.SILENT_FOR
                logger.warning("realtime: %s; %s is passed over for a while", exc, region)
            except RegionUnreachable:
                pass  # nobody serves it (down, or cut off): NATS said so at once
            else:
                return decode_events(reply)
        return await self._number_here(topic, entries, asker=asker)

    async def _number_here(
        self, topic: str, entries: Sequence[Entry], *, asker: tuple[int, int]
    ) -> list[Event]:
        """Number, keep and announce events in this region's lineage of the topic (started
        first when the copy here holds another), and send them to NATS."""
        events, lineage, began = await self.local.number(
            topic, entries, region=self.region, home=self.home(topic) == self.region,
            asker=asker,
        )  # fmt: skip
        if began and self.home(topic) != self.region:
            logger.warning(
                "realtime: %s: numbered in %s from %s on", topic, self.region, events[0].id
            )
        client = await self.links.client()
        for event in events:
            await client.publish(
                self.subjects.events(topic), event.encoded.encode(), headers=lineage.headers()
            )
        self._ticks().note(topic, events[-1].id, lineage, client)  # type: ignore[arg-type]
        return events

    async def take_back(self, topic: str, asker: tuple[int, int]) -> None:
        """The home hears of a newer lineage of its topic (numbered elsewhere while it could
        not be reached): it starts one of its own above it, resetting its clients, and tells
        the regions that watch it."""
        _, lineage, began = await self.local.number(
            topic, [], region=self.region, home=True, asker=asker
        )
        if began:
            logger.warning("realtime: %s: numbered here again from %s on", topic, lineage.epoch)
            client = await self.links.client()
            await tick(client, self.subjects.events(topic), lineage.epoch, lineage)
            self._ticks().note(topic, lineage.epoch, lineage, client)  # type: ignore[arg-type]

    async def behind(self, topic: str, lineage: Lineage) -> None:
        """A message of an older lineage than this region's came: when it is the home's, the
        home does not know of the newer one (it could not be reached meanwhile): tell it."""
        home = self.home(topic)
        if lineage.owner != home or home == self.region:
            return  # the other regions' old lineages die out when the home's is renewed
        seq, mine = await self.local.position(topic)
        if mine is not None:
            body = {"topic": topic, "epoch": mine.epoch, "seq": seq}
            await (await self.links.client()).publish(
                self.subjects.renew(home), json.dumps(body).encode()
            )

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
        # The client saw ids this region's copy lacks (it comes from another region): ask the
        # region that numbers the lineage held here.
        _, lineage = await self.local.position(topic)
        source = lineage.owner if lineage is not None and lineage.owner else home
        if source == self.region:
            return local
        try:
            return await self._replay_of(source, topic, after, lineage)
        except RegionUnreachable as exc:
            logger.warning("realtime: %s: %s; the client resets", topic, exc)
            return local

    async def clear(self, topic: str) -> None:
        await self.local.clear(topic)

    # Copying events numbered elsewhere into this region.

    async def receive(self, topic: str, event: Event, lineage: Lineage) -> None:
        """An event of ``topic`` from NATS: copy it here, after what it follows."""
        found = await self.local.import_event(topic, event, lineage)
        if found == OLDER:
            await self.behind(topic, lineage)
        elif found < 0:
            await self._fill(topic, -found, lineage, then=event)

    async def check(self, topic: str, last_id: int, lineage: Lineage) -> None:
        """A tick: ``lineage`` of the topic has reached ``last_id``. Fill in what this
        region's copy lacks (events that a partition held back), take up a newer lineage, or
        (in the home) take the topic back from the region that numbered it meanwhile."""
        if self.home(topic) == self.region:
            if lineage.owner != self.region:
                await self.take_back(topic, (lineage.epoch, last_id))
            return
        seq, mine = await self.local.position(topic)
        if mine is not None and lineage.epoch < mine.epoch:
            await self.behind(topic, lineage)
            return
        if (mine is None or lineage.epoch > mine.epoch) and await self.local.adopt(topic, lineage):
            seq = lineage.epoch
        if seq < last_id:
            await self._fill(topic, seq, lineage, then=None)

    async def catch_up(self, topic: str) -> None:
        """Bring this region's copy of a topic numbered elsewhere up to date (its first
        viewers here, after a while without: the copy may be stale)."""
        seq, lineage = await self.local.position(topic)
        if lineage is not None and lineage.owner not in ("", self.region):
            await self._fill(topic, seq, lineage, then=None)

    async def _fill(self, topic: str, after: int, lineage: Lineage, *, then: Event | None) -> None:
        """Copy the events of ``lineage`` after ``after`` here, then ``then``. When its owner
        no longer keeps them, the copy starts again (from ``then``, or the owner's newest
        event), and the hubs reset the clients that were behind it."""
        owner = lineage.owner or self.home(topic)
        if owner == self.region:
            return
        try:
            replay = await self._replay_of(owner, topic, after, lineage)
            events = [] if replay.reset else list(replay.events)
            if replay.reset and then is None and replay.last_id > lineage.epoch:
                events = (await self._replay_of(owner, topic, replay.last_id - 1, lineage)).events
        except RegionUnreachable as exc:
            logger.warning("realtime: %s: cannot fill in after %s (%s)", topic, after, exc)
            if then is None:
                return  # the next event or tick tries again
            replay, events = Replay(0, reset=True), []
        if replay.reset:
            logger.warning("realtime: %s: events after %s are lost here", topic, after)
        for n, event in enumerate([*events, *([then] if then else [])]):
            await self.local.import_event(topic, event, lineage, restart=replay.reset and n == 0)

    async def _replay_of(
        self, region: str, topic: str, after: int, lineage: Lineage | None
    ) -> Replay:
        """``region``'s history of the topic after ``after``: reset when it holds another
        lineage than ``lineage`` (None: any)."""
        body = {"topic": topic, "after": after, "epoch": lineage.epoch if lineage else 0}
        return decode_replay(await self._ask(self.subjects.replay(region), body))

    async def _ask(self, subject: str, body: dict[str, Any]) -> bytes:
        return await request(await self.links.client(), subject, body, wait=self.REQUEST_TIMEOUT)

    # What this region answers for the topics it numbers.

    async def _serve(self, client: Client) -> None:
        for subject, serve in (
            (self.subjects.append(self.region), self._serve_append),
            (self.subjects.replay(self.region), self._serve_replay),
            (self.subjects.renew(self.region), self._serve_renew),
        ):
            await client.subscribe(subject, queue=SERVE_GROUP, cb=serve)

    async def _serve_append(self, message: Msg) -> None:
        raw = json.loads(message.data)
        if raw.get("hops", 1) > len(self.regions):
            # REGIONS or REGION_HOME differ between regions: never pass it on (it could loop).
            logger.error("realtime: an append for %s went round the regions", raw["topic"])
            return
        if raw.get("until", float("inf")) <= now_ms():  # its asker numbered them (clocks: NTP)
            logger.warning("realtime: an append for %s came too late", raw["topic"])
            return
        try:
            events = await self._number(
                decode_appends(raw), asker=(raw["epoch"], raw["seq"]), hops=raw["hops"]
            )
        except Exception:
            logger.exception("realtime: could not append for another region")
            return  # the asker times out: its publish fails, logged there
        await message.respond(encode_events(events, raw))

    async def _serve_replay(self, message: Msg) -> None:
        raw = json.loads(message.data)
        topic, epoch = raw["topic"], raw.get("epoch", 0)
        replay = await self.local.replay(topic, raw["after"])
        if epoch:
            _, lineage = await self.local.position(topic)
            if lineage is None or lineage.epoch != epoch:
                replay = Replay(replay.last_id, reset=True)  # not the lineage asked about
        await message.respond(encode_replay(replay))

    async def _serve_renew(self, message: Msg) -> None:
        raw = json.loads(message.data)
        if self.home(raw["topic"]) == self.region:
            await self.take_back(raw["topic"], (raw["epoch"], raw["seq"]))
