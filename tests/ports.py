"""Listening ports for the servers the tests start (Kafka, ZooKeeper, registries, Spring apps, control planes).

The usual trick, bind port 0 and close, hands out a port from the kernel's ephemeral range: the same range
every outgoing connection on the machine takes its local port from. Between the close and the server's own
bind (a JVM start: seconds on a loaded machine), a client connection of another test could take it, and the
server died with "Address already in use" (seen in a 4-worker run: a KRaft broker, test_kraft.py).

Here ports come from below the ephemeral range, where the kernel never picks a local port on its own, each
xdist worker from its own slice of that band (no two workers hand out the same port), in order from a
random start, each one checked free by binding it, and never twice in one process.
"""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

LOWEST = 10_000
SLICES = 16                      # xdist workers gw0..gw15 get a slice each (gw16 shares gw0's, and so on)
_handed_out: set[tuple[str, int]] = set()


def ephemeral_range(path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> tuple[int, int]:
    try:
        low, high = map(int, path.read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999      # Linux's default


def worker_slice(worker: str | None, band: tuple[int, int]) -> range:
    """The ports of one xdist worker (`gw3`; None or "master": the first slice) within `band` [low, high)."""
    index = int(worker[2:]) if worker and worker.startswith("gw") and worker[2:].isdigit() else 0
    size = (band[1] - band[0]) // SLICES
    start = band[0] + (index % SLICES) * size
    return range(start, start + size)


def _bindable(address: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((address, port))
            return True
        except OSError:
            return False


def free_port(address: str = "127.0.0.1") -> int:
    """A port nothing listens on at `address`, outside the ephemeral range, not handed out before here."""
    low, _ = ephemeral_range()
    ports = worker_slice(os.environ.get("PYTEST_XDIST_WORKER"), (LOWEST, max(low, LOWEST + SLICES * 64)))
    first = random.randrange(len(ports))
    for offset in range(len(ports)):
        port = ports[(first + offset) % len(ports)]
        if (address, port) not in _handed_out and _bindable(address, port):
            _handed_out.add((address, port))
            return port
    raise RuntimeError(f"no free port left in {ports.start}-{ports.stop - 1} on {address}")
