"""The load tool's server processes: the ports they get, what it reads off them."""

from __future__ import annotations

from pathlib import Path

from loadtest.servers import SPARE_PORTS_FROM, StormMemory, free_port, spare_port

CLUSTER_BUS = 10_000  # a Redis Cluster node's bus port is its port + 10000


def _ephemeral_ports_start() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def test_a_spare_port_is_none_the_kernel_hands_out_meanwhile():
    """Below the ephemeral range: an outgoing connection may take a port of the range between
    its choice and the server's bind (the server then exits)."""
    port = free_port(3)
    assert SPARE_PORTS_FROM <= port < port + 3 <= _ephemeral_ports_start()


def test_a_cluster_nodes_bus_port_is_below_the_ephemeral_range_too():
    port = spare_port((0, CLUSTER_BUS))
    assert SPARE_PORTS_FROM <= port < port + CLUSTER_BUS < _ephemeral_ports_start()


def test_no_spare_port_is_given_twice():
    """Nor as another choice's offset port (a cluster node's bus port is no other's port)."""
    pairs = [free_port(2) for _ in range(50)]
    nodes = [spare_port((0, CLUSTER_BUS)) for _ in range(50)]
    ports = [port for first in pairs for port in (first, first + 1)]
    ports += [port for node in nodes for port in (node, node + CLUSTER_BUS)]
    assert len(set(ports)) == len(ports)


def test_a_storms_memory_is_its_highest_total_and_the_reading_when_all_were_back():
    readings = iter([[100, 100], [150, 140], [170, 90], [120, 120]])
    memory = StormMemory(lambda: next(readings))
    for back in (False, False, False, True):
        memory.note(back=back)
    assert memory.kb == {"peak": [150, 140], "back": [120, 120]}


def test_a_server_not_measured_never_hides_a_measured_peak():
    readings = iter([[None, 100], [200, 100], [None, 300]])
    memory = StormMemory(lambda: next(readings))
    for _ in range(3):
        memory.note(back=False)
    assert memory.kb == {"peak": [200, 100]}
