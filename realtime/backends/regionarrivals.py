"""A region's copy of a topic's events as they arrive from NATS: in id order, waiting briefly
for the ones before an event that came early (``realtime.backends.regions``)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from realtime.backends.regioncopy import OLDER
from realtime.protocol import Event
from realtime.regions import Lineage

if TYPE_CHECKING:
    from realtime.backends.regions import RegionsHistory


class Arrivals:
    """A topic's events from NATS, copied into the region's Redis in id order. NATS keeps the
    order of each publisher, but two processes of the home may publish a topic's events in
    another order than their ids (and two processes here may copy them in another order): an
    event that does not follow the copy waits up to ``REORDER_WAIT`` seconds for those before
    it, and only then are they asked of the home."""

    REORDER_WAIT = 0.05

    def __init__(self, regions: RegionsHistory, topic: str) -> None:
        self.regions, self.topic = regions, topic
        self.held: dict[int, tuple[Event, Lineage]] = {}  # by id
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    async def take(self, event: Event, lineage: Lineage) -> None:
        assert event.id is not None
        regions = self.regions
        if regions.home(self.topic) == regions.region:
            if lineage.owner != regions.region:  # numbered elsewhere while the home was away
                await regions.take_back(self.topic, (lineage.epoch, event.id))
            return  # else its own, here already
        found = await regions.local.import_event(self.topic, event, lineage)
        if found == OLDER:
            await regions.behind(self.topic, lineage)
        elif found < 0:
            self.held[event.id] = (event, lineage)
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
        """Copy the held events that follow the copy now. A give-up and an arrival may release
        at the same time: an event the other took meanwhile is skipped (copying is idempotent)."""
        for event_id in sorted(self.held):
            held = self.held.get(event_id)
            if held is None:
                continue
            if await self.regions.local.import_event(self.topic, *held) < 0:
                return
            self.held.pop(event_id, None)

    async def _give_up(self) -> None:
        """The events before the first held one did not come: ask the home."""
        if self.held:
            await self.regions.receive(self.topic, *self.held.pop(min(self.held)))
            await self._release()
        self._timer = None
        if self.held:
            self._arm()

    def stop(self) -> None:
        for pending in (self._timer, self._task):
            if pending is not None:
                pending.cancel()
