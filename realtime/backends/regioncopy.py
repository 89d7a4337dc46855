"""A region's Redis under the regions backend (``realtime.backends.regions``): the Redis
backend's store, which also knows which lineage of a topic's ids it holds, takes in events
numbered in another region, and starts a lineage of its own when its region numbers a topic.

Per topic, besides the Redis backend's keys (``seq``, ``log``, ``start``): ``owner``, the
region that numbers the lineage kept here. ``start`` is the lineage's epoch (its counter's
first value), so the ``covers`` rule of the base class holds for a copy as for the home.

A copy changes lineage in one script, which also publishes a ``reset`` (with the new
epoch) to the region's hubs: every client that was on the old lineage refetches once, at the
moment its region changes lineage, and goes on with the new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from realtime.backends.base import Entry, counter_start
from realtime.backends.redis import RETAIN_LUA, RedisHistory
from realtime.clients import redis_client
from realtime.protocol import RESET, Event, encoded_parts, make_event
from realtime.regions import Lineage

# A reset announced through Redis (``reset_parts``) around its ``last_event_id``.
_RESET_PROBE = make_event(RESET, {"last_event_id": 0}, ts=0.0).encoded
RESET_HEAD, RESET_TAIL = _RESET_PROBE.rsplit('"last_event_id":0', 1)
RESET_HEAD += '"last_event_id":'

OLDER = 2  # what ``import_event`` answers for an event of a lineage older than the copy's

# KEYS: seq, log, start, owner; ARGV: id, encoded event, size, ttl, channel, '1' to start the
# copy again from this event, the publish command, the lineage's epoch and owner, and the
# reset's head and tail. Returns 1 (kept and announced), 0 (known already), OLDER, or minus
# the copy's last id (a gap: nothing stored).
IMPORT_LUA = (
    b"""
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = tonumber(redis.call('GET', KEYS[3]) or '0')
local id = tonumber(ARGV[1])
local event = ARGV[2]
local epoch = tonumber(ARGV[8])
local restart = ARGV[6] == '1'
if epoch < start then
  return 2
end
if epoch > start then
  redis.call('DEL', KEYS[2])
  redis.call('SET', KEYS[3], ARGV[8])
  redis.call('SET', KEYS[4], ARGV[9])
  if seq > 0 then
    -- Another lineage: the clients on this one refetch.
    redis.call(ARGV[7], ARGV[5], ARGV[10] .. ARGV[8] .. ARGV[11])
    if id ~= epoch + 1 and not restart then
      redis.call('SET', KEYS[1], ARGV[8])
      return -epoch
    end
  end
  seq = id - 1
elseif restart then
  redis.call('DEL', KEYS[2])
  seq = id - 1
end
if id <= seq then
  return 0
end
if id ~= seq + 1 then
  return -seq
end
redis.call('SET', KEYS[1], ARGV[1])
"""
    + RETAIN_LUA
    + b"return 1\n"
)

# KEYS as IMPORT's; ARGV: the reset's head and tail, size, ttl, channel, counter_start(), the
# publish command, this region, '1' in the topic's home, the asker's epoch and newest id, then
# each event's encoded parts before and after its id (none: only the lineage).
# A region numbers a topic in a lineage of its own: unless the copy here is one already (the
# home's keys from before lineages had no owner) and no asker holds a newer lineage, a new one
# starts above every id seen here or by the asker. The events get the next ids, one after the
# other. Returns {the first event's id or 0, epoch, 1 if it started}.
NUMBER_LUA = (
    b"""
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = tonumber(redis.call('GET', KEYS[3]) or '0')
local owner = redis.call('GET', KEYS[4])
local mine = owner == ARGV[8] or (not owner and ARGV[9] == '1' and seq > 0)
local began = 0
if not mine or tonumber(ARGV[10]) > start then
  local epoch = string.format('%d', math.max(tonumber(ARGV[6]), seq + 1, tonumber(ARGV[11]) + 1))
  if seq > 0 then
    redis.call(ARGV[7], ARGV[5], ARGV[1] .. epoch .. ARGV[2])
  end
  redis.call('DEL', KEYS[2])
  redis.call('SET', KEYS[1], epoch)
  redis.call('SET', KEYS[3], epoch)
  redis.call('SET', KEYS[4], ARGV[8])
  for _, key in ipairs({KEYS[1], KEYS[3], KEYS[4]}) do
    if tonumber(ARGV[4]) > 0 then
      redis.call('EXPIRE', key, ARGV[4])
    end
  end
  began = 1
end
start = tonumber(redis.call('GET', KEYS[3]))
local first = 0
for at = 12, #ARGV, 2 do
  local id = redis.call('INCR', KEYS[1])
  if first == 0 then
    first = id
  end
  local event = ARGV[at] .. string.format('%d', id) .. ARGV[at + 1]
"""
    + RETAIN_LUA
    + b"end\nreturn {first, start, began}\n"
)

# KEYS as IMPORT's; ARGV: the lineage's epoch and owner, channel, publish command, the reset's
# head and tail, ttl. The copy takes a newer lineage that has no events here yet.
ADOPT_LUA = b"""
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = tonumber(redis.call('GET', KEYS[3]) or '0')
if tonumber(ARGV[1]) <= start then
  return 0
end
if seq > 0 then
  redis.call(ARGV[4], ARGV[3], ARGV[5] .. ARGV[1] .. ARGV[6])
end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[3], ARGV[1])
redis.call('SET', KEYS[4], ARGV[2])
if tonumber(ARGV[7]) > 0 then
  for _, key in ipairs(KEYS) do
    redis.call('EXPIRE', key, ARGV[7])
  end
end
return 1
"""


class RegionCopy(RedisHistory):
    """A region's Redis: the Redis backend's store, with lineages (see the module's
    docstring)."""

    PARTS = ("seq", "log", "start", "owner")

    async def _eval(self, script: bytes, topic: str, *args: Any) -> Any:
        return await redis_client(self.redis_url).eval(script, 4, *self._keys(topic), *args)

    async def position(self, topic: str) -> tuple[int, Lineage | None]:
        """The copy's newest id, and the lineage it holds (None: nothing here)."""
        seq, start, owner = await redis_client(self.redis_url).mget(
            self.key(topic, "seq"), self.key(topic, "start"), self.key(topic, "owner")
        )
        if not seq:
            return 0, None
        return int(seq), Lineage(int(start or 0), owner.decode() if owner else "")

    async def number(
        self,
        topic: str,
        entries: Sequence[Entry],
        *,
        region: str,
        home: bool,
        asker: tuple[int, int] = (0, 0),
    ) -> tuple[list[Event], Lineage, bool]:
        """Give ``entries`` (events of ``topic``) its next ids in order, in this region's own
        lineage (started first if needed, or when ``asker``, an (epoch, newest id), holds a
        newer one); with no entries, only start that lineage when needed. Returns the events,
        the lineage and whether it started now."""
        parts = [
            encoded_parts(event_type, ts, data_json) for _, event_type, _, ts, data_json in entries
        ]
        first_id, epoch, began = await self._eval(
            NUMBER_LUA, topic, RESET_HEAD, RESET_TAIL, self.size, self.ttl, self.channel(topic),
            counter_start(), self.PUBLISH, region, "1" if home else "0", *asker,
            *(part for pair in parts for part in pair),
        )  # fmt: skip
        events = [
            Event(event_type, first_id + n, ts, data, f"{prefix}{first_id + n}{suffix}")
            for n, ((_, event_type, data, ts, _), (prefix, suffix)) in enumerate(
                zip(entries, parts, strict=True)
            )
        ]
        return events, Lineage(int(epoch), region), bool(began)

    async def import_event(
        self, topic: str, event: Event, lineage: Lineage, *, restart: bool = False
    ) -> int:
        """Store and announce ``event`` of ``lineage`` under its own id: 1, 0 when known
        already, ``OLDER`` when the copy holds a newer lineage (nothing stored), or minus the
        last id here when it does not follow it (nothing stored)."""
        found = await self._eval(
            IMPORT_LUA, topic, event.id, event.encoded, self.size, self.ttl,
            self.channel(topic), "1" if restart else "0", self.PUBLISH, lineage.epoch,
            lineage.owner, RESET_HEAD, RESET_TAIL,
        )  # fmt: skip
        return int(found)

    async def adopt(self, topic: str, lineage: Lineage) -> bool:
        """Hold ``lineage`` from now on when it is newer than the copy's (its events to be
        filled in after its epoch); False when it is not."""
        adopted = await self._eval(
            ADOPT_LUA, topic, lineage.epoch, lineage.owner, self.channel(topic),
            self.PUBLISH, RESET_HEAD, RESET_TAIL, self.ttl,
        )  # fmt: skip
        return bool(adopted)
