"""What the servers ask of Redis: commands per second, and pub/sub subscriptions per process.

Read from the Redis the servers use: ``INFO`` for the commands (the whole Redis server's
counts: any other client of it, in any database, counts too, so run on a quiet Redis), and
``CLIENT LIST`` for the subscriptions, each Redis connection matched to the server process
that holds it through ``/proc/<pid>`` (its sockets' local ports).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import redis

from loadtest.stats import rate

TOP_COMMANDS = 8  # the busiest commands named in the report


class RedisProbe:
    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)

    def commands(self) -> dict[str, Any]:
        """The commands Redis has processed so far: in all, and calls per command."""
        stats = self.client.info("commandstats")
        return {
            "total": int(self.client.info("stats")["total_commands_processed"]),
            "calls": {name.removeprefix("cmdstat_"): s["calls"] for name, s in stats.items()},
        }

    def subscriptions(self, pids: list[int | None]) -> list[dict[str, int] | None]:
        """Per server process (None where its pid is unknown): its Redis connections and the
        channels (``SUBSCRIBE`` and ``SSUBSCRIBE``) and patterns they are subscribed to."""
        ports = {pid: _local_ports(pid) for pid in pids if pid is not None}
        out: dict[int, dict[str, int]] = {
            pid: {"connections": 0, "channels": 0, "patterns": 0} for pid in ports
        }
        for client in self.client.client_list():
            port = int(client["addr"].rsplit(":", 1)[1])
            for pid, held in ports.items():
                if port in held:
                    out[pid]["connections"] += 1
                    out[pid]["channels"] += int(client["sub"]) + int(client.get("ssub", 0))
                    out[pid]["patterns"] += int(client["psub"])
        return [out[pid] if pid is not None else None for pid in pids]

    def close(self) -> None:
        self.client.close()


def command_rates(before: dict[str, Any], after: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Commands per second between two ``commands()`` reads, in all and for the busiest."""
    calls = {
        name: n - before["calls"].get(name, 0)
        for name, n in after["calls"].items()
        if n > before["calls"].get(name, 0)
    }
    busiest = sorted(calls.items(), key=lambda item: -item[1])[:TOP_COMMANDS]
    return {
        "per_sec": rate(after["total"] - before["total"], seconds),
        "busiest_per_sec": {name: round(rate(n, seconds), 1) for name, n in busiest},
    }


def _local_ports(pid: int) -> set[int]:
    """The local TCP ports of the sockets process ``pid`` holds open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports
