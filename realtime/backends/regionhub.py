"""The regions backend's hub (``realtime.backends.regions``): the Redis backend's hub on the
region's Redis, which also subscribes each watched topic's NATS subject while it has viewers,
and hands what arrives there to the region's copy of the topic."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from realtime.backends.pubsub import Feed
from realtime.backends.redis import RedisHub
from realtime.backends.regionarrivals import Arrivals
from realtime.protocol import decode_event
from realtime.regions import LAST_ID, ORIGIN, Lineage

if TYPE_CHECKING:
    from realtime.backends.regions import RegionsHistory

logger = logging.getLogger(__name__)


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
                lineage = Lineage.of(headers)
                if LAST_ID in headers:
                    if lineage is not None:
                        await regions.check(topic, int(headers[LAST_ID]), lineage)
                    return
                event = decode_event(message.data)
                if event.id is not None:
                    if lineage is not None:
                        await arrivals.take(event, lineage)
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
