"""The tracker's part in presence over regions: it takes in the other regions' shares of a
topic while it has connections to it, tells its region's share at each flush, and announces
the count again when another region's share changed it."""

from __future__ import annotations

from collections.abc import Callable

from presence.tracker import Tracker
from tests.presence.conftest import Capture, Published
from tests.presence.trackers import TOPIC, CountingStore, make_tracker, settle


class SharingStore(CountingStore):
    """A store of one region whose count another region's share (``elsewhere``) adds to,
    recording what the tracker asks of it."""

    def __init__(self) -> None:
        super().__init__()
        self.elsewhere = 0
        self.watching: dict[str, Callable[[str], None]] = {}
        self.shared: list[str] = []

    def viewer_counts(self, topics):
        return {t: n + self.elsewhere for t, n in super().viewer_counts(topics).items()}

    async def ashare(self, topic: str) -> None:
        self.shared.append(topic)

    async def awatch(self, topic: str, changed: Callable[[str], None]) -> None:
        self.watching[topic] = changed

    async def aunwatch(self, topic: str) -> None:
        del self.watching[topic]


async def test_the_tracker_shares_and_takes_in_shares_while_it_has_connections(
    published: Capture,
) -> None:
    store = SharingStore()
    presence: Tracker = make_tracker(store=store)
    try:
        await presence.connection_opened(topic=TOPIC, connection_id="c1", user=None)
        await settle()
        assert list(store.watching) == [TOPIC]
        assert store.shared == [TOPIC]  # its flush told the other regions
        assert published == [Published(TOPIC, "viewers", {"count": 1}, False)]

        store.elsewhere = 4  # another region's share arrives
        store.watching[TOPIC](TOPIC)
        await settle()
        assert published[-1] == Published(TOPIC, "viewers", {"count": 5}, False)

        await presence.connection_closed(topic=TOPIC, connection_id="c1", user=None)
        await settle()
        assert published[-1] == Published(TOPIC, "viewers", {"count": 4}, False)
        assert store.shared == [TOPIC] * 3  # one share per flush: the store says if it changed
        assert store.watching == {}  # no connection left: no more shares taken in
    finally:
        presence.close()
