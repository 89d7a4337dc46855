"""Delivery latency within a region and across regions, and messages across the links per event:
``python -m tests.regions_bench [--events N] [--rate R] [--delay S]`` (run it under the
benchmark lock: ``flock /work/bench.lock ...``). Three private regions
(``loadtest.privateregions``), every topic homed in ``eu``; a viewer in ``eu`` and one in
``us``, none in ``ap``. Half the events are published in ``eu``, half in ``us`` (which asks
``eu`` to number them). Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livevideo.settings")
django.setup()

from loadtest.privateregions import PrivateRegions  # noqa: E402
from realtime.backends.regions import RegionsHistory  # noqa: E402
from realtime.conf import DEFAULTS  # noqa: E402
from realtime.protocol import Batch, encode_data, now_ms  # noqa: E402
from realtime.regions import first_region  # noqa: E402

NAMES = ("eu", "us", "ap")


class Clock:
    """A hub subscriber that notes how long after its publication each event arrived."""

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {"eu": [], "us": []}  # by where published

    def push(self, batch: Batch) -> bool:
        now = now_ms()
        for event in batch.events:
            self.latencies[event.type].append(now - event.ts)
        return False


def per(count: int, events: float) -> float:
    return round(count / events, 3)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)


async def measure(regions: PrivateRegions, events: int, rate: float) -> dict[str, object]:
    prefix = f"rt-bench-{uuid.uuid4().hex[:8]}"
    stores = {}
    for name in ("eu", "us"):
        stores[name] = RegionsHistory(
            size=1000, ttl=600, redis_url=regions[name].redis.url, key_prefix=prefix,
            region=name, regions=NAMES, nats_url=regions[name].nats_url, home=first_region,
        )  # fmt: skip
    viewers = {}
    for name, store in stores.items():
        store.tick_interval = 3600.0  # count the events' messages only
        hub = store.make_hub(
            flush_interval=DEFAULTS["FLUSH_INTERVAL"], storm_joins=10**6, storm_share=0.1
        )
        viewers[name] = Clock()
        await hub.join("b", viewers[name])
    await asyncio.sleep(1)  # interest crosses the gateways
    sent = {name: regions["eu"].sent_to(name) for name in ("us", "ap")}
    sent_by_us = regions["us"].sent_to("eu")
    appends = []
    for n in range(events):  # at ``rate``, not waiting for each (us's wait for eu's answer)
        origin = "eu" if n % 2 == 0 else "us"
        data = {"n": n}
        append = stores[origin].append("b", origin, data, ts=now_ms(), data_json=encode_data(data))
        appends.append(asyncio.ensure_future(append))
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*appends)
    await asyncio.sleep(2)
    result: dict[str, object] = {
        "events": events,
        "rate_per_s": rate,
        "link_delay_ms": regions.delay * 1000,
        # Events, and the answers to us's appends (half the events).
        "messages_eu_to_us_per_event": per(regions["eu"].sent_to("us") - sent["us"], events),
        "messages_eu_to_ap_per_event": per(regions["eu"].sent_to("ap") - sent["ap"], events),
        "messages_us_to_eu_per_us_event": per(regions["us"].sent_to("eu") - sent_by_us, events / 2),
    }
    for viewer_region, viewer in viewers.items():
        for origin, latencies in viewer.latencies.items():
            result[f"published_in_{origin}_seen_in_{viewer_region}"] = {
                "received": len(latencies),
                "p50_ms": percentile(latencies, 0.5),
                "p99_ms": percentile(latencies, 0.99),
            }
    for store in stores.values():
        await store.links.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--delay", type=float, default=0.075)
    args = parser.parse_args()
    regions = PrivateRegions(NAMES, delay=args.delay)
    try:
        started = time.monotonic()
        result = asyncio.run(measure(regions, args.events, args.rate))
        result["seconds"] = round(time.monotonic() - started, 1)
        result["load_average"] = os.getloadavg()
        print(json.dumps(result, indent=2))
    finally:
        regions.destroy()


if __name__ == "__main__":
    main()
