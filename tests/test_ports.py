"""The test servers' ports (tests/ports.py): outside the ephemeral range, one slice per xdist worker."""

import socket

import ports


def test_workers_get_disjoint_slices_below_the_ephemeral_range():
    band = (ports.LOWEST, 32768)
    slices = [set(ports.worker_slice(f"gw{i}", band)) for i in range(ports.SLICES)]
    assert all(len(s) > 1000 for s in slices)
    assert sum(len(s) for s in slices) == len(set().union(*slices))      # no port in two slices
    assert max(max(s) for s in slices) < 32768 and min(min(s) for s in slices) >= ports.LOWEST
    assert ports.worker_slice(None, band) == ports.worker_slice("gw0", band) == ports.worker_slice("gw16", band)


def test_a_port_is_free_outside_the_ephemeral_range_and_never_handed_out_twice(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw5")
    low, _ = ports.ephemeral_range()
    taken = [ports.free_port() for _ in range(50)]
    assert len(set(taken)) == 50 and all(port < low for port in taken)
    assert set(taken) <= set(ports.worker_slice("gw5", (ports.LOWEST, max(low, ports.LOWEST + ports.SLICES * 64))))


def test_a_port_someone_listens_on_is_skipped(monkeypatch):
    monkeypatch.setattr(ports, "worker_slice", lambda worker, band: range(ports.LOWEST + 7, ports.LOWEST + 9))
    monkeypatch.setattr(ports, "_handed_out", set())
    monkeypatch.setattr(ports.random, "randrange", lambda n: 0)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", ports.LOWEST + 7))
        busy.listen()
        assert ports.free_port() == ports.LOWEST + 8
