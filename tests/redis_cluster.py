"""A throwaway Redis Cluster (masters with one replica each) on spare ports, for the tests that
hold the stores and the fan-out to a real cluster and kill a master to watch its replica take
over. Built from the same ``redis-server`` the rest of the suite uses; nothing to install."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from loadtest.servers import spare_port, stop_process
from tests.servers import wait_until

BUS_PORT_OFFSET = 10_000  # Redis Cluster's node-to-node bus listens on port + 10000
NODE_TIMEOUT_MS = 1_000  # how long a master may be silent before its replica is promoted


def _answers(port: int, command: bytes = b"PING") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(command + b"\r\n")
        return sock.recv(65536)


class PrivateRedisCluster:
    """``masters`` masters with one replica each, all slots covered, ready to use."""

    def __init__(self, masters: int = 3) -> None:
        if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
            raise RuntimeError("no redis-server / redis-cli on PATH")
        self.dir = Path(tempfile.mkdtemp(prefix="private-redis-cluster-"))
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.ports = sorted(spare_port((0, BUS_PORT_OFFSET)) for _ in range(masters * 2))
        try:
            for port in self.ports:
                self._start_node(port)
            subprocess.run(
                ["redis-cli", "--cluster", "create",
                 *(f"127.0.0.1:{port}" for port in self.ports),
                 "--cluster-replicas", "1", "--cluster-yes"],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
            if not wait_until(self._healthy, timeout=30, interval=0.2):
                raise RuntimeError("the cluster did not reach cluster_state:ok")
        except Exception:
            self.destroy()
            raise

    @property
    def url(self) -> str:
        """A ``REDIS_URL`` naming a live node: a cluster client finds the others by itself."""
        port = next(port for port, process in self.processes.items() if process.poll() is None)
        return f"redis://127.0.0.1:{port}/0"

    def _start_node(self, port: int) -> None:
        node_dir = self.dir / str(port)
        node_dir.mkdir(exist_ok=True)
        self.processes[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
             "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
             "--repl-diskless-sync-delay", "0", "--save", "", "--appendonly", "no",
             "--dir", str(node_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if not wait_until(lambda: _answers(port).startswith(b"+PONG"), timeout=10):
            raise RuntimeError(f"cluster node on port {port} did not start")

    def flush_masters(self) -> None:
        """Empty every live master (and so its replica)."""
        for port, process in self.processes.items():
            if process.poll() is None and b"role:master" in _answers(port, b"INFO replication"):
                _answers(port, b"FLUSHALL")

    def _healthy(self) -> bool:
        """Every slot served, and every live replica in sync with its master (a replica that
        never synced would refuse to take over)."""
        live = [port for port, process in self.processes.items() if process.poll() is None]
        return all(
            b"cluster_state:ok" in _answers(port, b"CLUSTER INFO")
            and b"master_link_status:down" not in _answers(port, b"INFO replication")
            for port in live
        )

    def master_of(self, key: str) -> int:
        """The port of the live master that holds ``key``'s slot now."""
        for port, process in self.processes.items():
            if process.poll() is None:
                slot = int(_answers(port, f"CLUSTER KEYSLOT {key}".encode())[1:].split(b"\r\n")[0])
                nodes = subprocess.run(
                    ["redis-cli", "-p", str(port), "cluster", "nodes"],
                    check=True, capture_output=True, text=True, timeout=10,
                ).stdout  # fmt: skip
                return _master_port_for_slot(nodes, slot)
        raise RuntimeError("no cluster node is running")

    def kill_master_of(self, key: str) -> int:
        """Kill (SIGKILL) the master that holds ``key``; wait until its replica took over.
        Returns the dead master's port."""
        port = self.master_of(key)
        process = self.processes[port]
        process.kill()
        process.wait()
        promoted = wait_until(
            lambda: self.master_of(key) != port and self._healthy(), timeout=30, interval=0.2
        )
        if not promoted:
            raise RuntimeError(f"no replica took over from the master on port {port}")
        return port

    def move_slot_of(self, key: str) -> int:
        """Hand ``key``'s slot, which must hold no keys, to another master (as resharding
        does); returns that master's port."""
        source = self.master_of(key)
        slot = int(_answers(source, f"CLUSTER KEYSLOT {key}".encode())[1:].split(b"\r\n")[0])
        target = next(
            port
            for port, process in self.processes.items()
            if port != source
            and process.poll() is None
            and b"role:master" in _answers(port, b"INFO replication")
        )
        source_id, target_id = (_node_id(port) for port in (source, target))
        for port, state in (
            (target, f"IMPORTING {source_id}"),
            (source, f"MIGRATING {target_id}"),
            (target, f"NODE {target_id}"),
            (source, f"NODE {target_id}"),
        ):
            reply = _answers(port, f"CLUSTER SETSLOT {slot} {state}".encode())
            assert reply.startswith(b"+OK"), reply
        if not wait_until(lambda: self.master_of(key) == target, timeout=10, interval=0.1):
            raise RuntimeError(f"slot {slot} did not move")
        return target

    def restart(self, port: int) -> None:
        """Start a killed node again (it rejoins as a replica of the master that took over
        from it) and wait until it is in sync."""
        self._start_node(port)
        if not wait_until(self._healthy, timeout=30, interval=0.2):
            raise RuntimeError(f"the node on port {port} did not rejoin the cluster")

    def destroy(self) -> None:
        for process in self.processes.values():
            stop_process(process)
        shutil.rmtree(self.dir, ignore_errors=True)


def _node_id(port: int) -> str:
    return _answers(port, b"CLUSTER MYID").split(b"\r\n")[1].decode()


def _master_port_for_slot(nodes: str, slot: int) -> int:
    """From ``CLUSTER NODES`` (``id ip:port@bus flags master ... link slot-ranges``): the port
    of the master serving ``slot`` that is not marked failed."""
    for line in nodes.splitlines():
        fields = line.split()
        flags = fields[2].split(",")
        if "master" not in flags or "fail" in flags or "fail?" in flags:
            continue
        for ranges in fields[8:]:
            low, _, high = ranges.partition("-")
            if low.isdigit() and int(low) <= slot <= int(high or low):
                return int(fields[1].split("@")[0].rsplit(":", 1)[1])
    raise RuntimeError(f"no live master for slot {slot}")
