"""Servers the tests and drills start listen on ports chosen outside the kernel's ephemeral range,
where outgoing connections cannot take them between the choice and the bind."""

from __future__ import annotations

import socket
from pathlib import Path

from bench.processes import free_port


def test_a_free_port_can_be_listened_on_and_is_not_one_the_kernel_gives_connections() -> None:
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    ports = {free_port() for _ in range(20)}
    assert all(not low <= port <= high for port in ports)
    assert len(ports) > 1  # chosen at random, not one fixed port
    for port in ports:
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))
            server.listen()
