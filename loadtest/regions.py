"""Regions on this machine for the load tool (``--regions N``): private regions
(``loadtest/privateregions.py``, which the regions tests use too: per region a Redis and a NATS
server, their gateways through links that hold every byte ``--region-delay`` seconds one way),
the server processes spread over them in turn (server ``i`` in region ``i mod N``; the first
region is every broadcast's home), each viewer worker's viewers on the servers of one region
(worker ``k`` in region ``k mod N``), and the driver's writes on every server in turn, so a
share of them is posted in a region that asks the home to number its events. The report adds
the viewers' latency per region and the messages each region's NATS server sent across each
link per second.
"""

from __future__ import annotations

from typing import Any

from loadtest.privateregions import PrivateRegions
from loadtest.stats import Histogram

NAMES = ("eu", "us", "ap")


class LoadRegions:
    def __init__(self, count: int, delay: float) -> None:
        if not 2 <= count <= len(NAMES):
            raise ValueError(f"--regions takes 2 to {len(NAMES)}")
        self.names = NAMES[:count]
        self.regions = PrivateRegions(self.names, delay=delay)

    def of_server(self, index: int) -> str:
        return self.names[index % len(self.names)]

    def of_worker(self, index: int, ports: list[int]) -> tuple[str, list[int]]:
        """Worker ``index``'s region, and the ports of its servers (``ports``: every server's)."""
        region = self.names[index % len(self.names)]
        return region, [port for i, port in enumerate(ports) if self.of_server(i) == region]

    def env(self, index: int) -> dict[str, str]:
        """What server ``index`` is given besides the load tool's environment."""
        return self.regions.app_env(self.of_server(index))

    def crossed(self) -> dict[str, int]:
        """Messages each region's NATS server has sent over its gateway to each other."""
        return {
            f"{a}->{b}": self.regions[a].sent_to(b)
            for a in self.names
            for b in self.names
            if a != b
        }

    def per_second(self, before: dict[str, int], seconds: float) -> dict[str, float]:
        """Messages per second across each link since ``before`` (``crossed()`` then)."""
        after = self.crossed()
        return {link: round((after[link] - before[link]) / seconds, 1) for link in before}

    def latency_by_region(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        """The viewers' latency percentiles, per region (the workers' results carry theirs)."""
        merged: dict[str, Histogram] = {}
        for result in results:
            histogram = merged.setdefault(result["region"], Histogram())
            for part in result["broadcasts"].values():
                histogram.merge(Histogram.from_dict(part["histogram"]))
        return {name: histogram.summary() for name, histogram in merged.items()}

    def close(self) -> None:
        self.regions.destroy()
