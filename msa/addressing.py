"""The stack's address plan: a fixed ClusterIP for every Service that has one, and checked NodePorts.

Pure code, computed once before any resource exists. Why fixed addresses: Eureka clients register
their Service's ClusterIP (`spring.registration: clusterIP`), so the address must be known before the
Deployment is written and must not change when a Service is re-created.

Automatic addresses come from the *static band* of the service CIDR (KEP-3070: the first
min(max(16, size/16), 256) addresses), which the API server's dynamic allocator uses last, so a
hand-picked address there rarely collides with a Service someone else creates.

Stability: an automatic address is a function of the Service's name and the range alone, never of the
other Services. Two names that land on the same address are refused (one line naming both and the pin
that settles it) instead of one of them moving to the next free slot: that probing (msa 0.1.0) let
adding, removing or pinning one Service move another, which on a running cluster replaces it. The
state-side half of the promise, a refusal when an address that exists changes after all, is
address_guard.py.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Optional

from .errors import ConfigError


@dataclass(frozen=True)
class AddressRequest:
    """One Service that needs a ClusterIP (and maybe a NodePort), with the config keys to blame."""

    service: str
    cluster_ip: Optional[ipaddress.IPv4Address]
    cluster_ip_key: str
    node_port: Optional[int] = None
    node_port_key: str = ""


def _pinnable(req: AddressRequest) -> bool:
    """A Service whose address has a config key of its own (the stack's Kafka Services have none)."""
    return req.cluster_ip_key.endswith(".clusterIP")


@dataclass(frozen=True)
class AddressPlan:
    cluster_ips: dict[str, str]
    node_ports: dict[str, int]
    warnings: list[str] = field(default_factory=list)

    def cluster_ip(self, service: str) -> str:
        return self.cluster_ips[service]


def static_band_size(cidr: ipaddress.IPv4Network) -> int:
    """KEP-3070: the lower band the dynamic allocator avoids while it can. A range of fewer than 16
    addresses has none (the API server's calculateRangeOffset returns 0 there)."""
    if cidr.num_addresses < 16:
        return 0
    return min(max(16, cidr.num_addresses // 16), 256)


def reserved_addresses(cidr: ipaddress.IPv4Network) -> dict[ipaddress.IPv4Address, str]:
    """Addresses no Service of ours may take, and who holds them."""
    reserved = {
        cidr.network_address: "the network address",
        cidr.network_address + 1: "the `kubernetes` API Service (first host)",
        cidr.broadcast_address: "the broadcast address",
    }
    if cidr.num_addresses > 10:
        reserved[cidr.network_address + 10] = "the cluster DNS Service (tenth host)"
    return reserved


def static_band(cidr: ipaddress.IPv4Network) -> list[ipaddress.IPv4Address]:
    reserved = reserved_addresses(cidr)
    first = cidr.network_address
    return [first + i for i in range(static_band_size(cidr)) if first + i not in reserved]


def usable_addresses(cidr: ipaddress.IPv4Network) -> list[ipaddress.IPv4Address]:
    """Every address of the range a Service of ours may take."""
    reserved = reserved_addresses(cidr)
    first = cidr.network_address
    return [first + i for i in range(cidr.num_addresses) if first + i not in reserved]


def _preferred_slot(service: str, band_len: int) -> int:
    # A stable hash (not Python's salted hash()): the same name gets the same address on every run.
    return int.from_bytes(hashlib.sha256(service.encode()).digest()[:8], "big") % band_len


def derived_address(service: str, band: list[ipaddress.IPv4Address]) -> ipaddress.IPv4Address:
    """The address a Service without `clusterIP` gets: its name's slot in the band, nothing else."""
    return band[_preferred_slot(service, len(band))]


def v0_1_automatic_addresses(automatic: list[str], band: list[ipaddress.IPv4Address],
                             taken: set[ipaddress.IPv4Address]) -> dict[str, ipaddress.IPv4Address]:
    """What msa 0.1.0 gave Services without `clusterIP` (the name's slot, or on a collision the next free
    one, names sorted by slot): kept only to tell a stack deployed with it which address to pin."""
    taken = set(taken)
    given: dict[str, ipaddress.IPv4Address] = {}
    for name in sorted(automatic, key=lambda n: (_preferred_slot(n, len(band)), n)):
        start = _preferred_slot(name, len(band))
        for step in range(len(band)):
            candidate = band[(start + step) % len(band)]
            if candidate not in taken:
                taken.add(candidate)
                given[name] = candidate
                break
    return given


def _collision(auto: AddressRequest, other: AddressRequest, ip: ipaddress.IPv4Address, free: Optional[ipaddress.IPv4Address],
               v0_1: dict[str, ipaddress.IPv4Address]) -> ConfigError:
    """One line naming both Services, the address, and the pin that settles it without moving either."""
    example = f", e.g. {free}" if free else ""
    if other.cluster_ip is not None:
        # A pin on another Service's derived address: the pin goes elsewhere, the derived one stays.
        return ConfigError(other.cluster_ip_key, f"{ip} is the address {auto.service} derives from its name; pin {other.service} to another "
                                                 f"free address{example} (an automatic address never moves to make room)")
    pair = sorted((auto, other), key=lambda r: r.service)
    blamed = next((r for r in reversed(pair) if _pinnable(r)), pair[-1])
    before = [f"{r.service} {v0_1[r.service]}" for r in pair if r.service in v0_1]
    history = ""
    if any(v0_1.get(r.service) not in (None, ip) for r in pair):
        history = f"; a stack deployed with msa 0.1.0 has {' and '.join(before)}: pin the one that moved there"
    pinnable = " or ".join(f"msa:{r.cluster_ip_key}" for r in pair if _pinnable(r))
    return ConfigError(blamed.cluster_ip_key, f"{pair[0].service} and {pair[1].service} both derive {ip} from their names; pin the new one "
                                              f"({pinnable}) to a free address{example}, the deployed one keeps {ip}{history}")


def plan_addresses(
    requests: list[AddressRequest],
    cidr: ipaddress.IPv4Network,
    node_port_range: range,
    node_port_range_key: str = "cluster.nodePortRange",
    cidr_key: str = "cluster.serviceCidr",
) -> AddressPlan:
    """Check explicit addresses, then give every other Service the address its name derives.

    An automatic address depends only on the Service's own name and the range: adding, removing or
    pinning another Service never moves it. When an automatic address is already taken (another
    name derives it too, or a pin holds it), the Service that can be pinned is refused with the fix.
    """
    usable = usable_addresses(cidr) if cidr.num_addresses <= 4096 else None
    if usable is not None and len(requests) > len(usable):
        raise ConfigError(
            cidr_key,
            f"{cidr} has {len(usable)} addresses for Services but the stack needs {len(requests)} "
            f"({', '.join(r.service for r in requests)}); use the cluster's real --service-cluster-ip-range (kubeadm: 10.96.0.0/12)",
        )
    taken, outside_band = _pinned_addresses(requests, cidr)
    warnings = [_outside_band_warning(outside_band, cidr)] if outside_band else []
    # Automatic addresses come from the static band; a range too small to have one lends all of itself.
    _automatic_addresses(requests, static_band(cidr) or usable or [], taken, cidr)
    # In the order they were given: the pinned addresses, then the automatic ones by name.
    cluster_ips = {service: str(ip) for ip, service in taken.items()}
    node_ports = _node_ports(requests, node_port_range, node_port_range_key)
    return AddressPlan(cluster_ips=cluster_ips, node_ports=node_ports, warnings=warnings)


def _pinned_addresses(requests: list[AddressRequest], cidr: ipaddress.IPv4Network
                      ) -> tuple[dict[ipaddress.IPv4Address, str], list[AddressRequest]]:
    """The explicit clusterIPs, checked (address -> Service), and those outside the static band."""
    reserved = reserved_addresses(cidr)
    band_set = set(static_band(cidr))
    taken: dict[ipaddress.IPv4Address, str] = {}
    outside_band: list[AddressRequest] = []
    for req in requests:
        ip = req.cluster_ip
        if ip is None:
            continue
        if ip not in cidr:
            raise ConfigError(req.cluster_ip_key, f"{ip} is outside the service CIDR {cidr}; pick an address inside it")
        if ip in reserved:
            raise ConfigError(req.cluster_ip_key, f"{ip} is reserved for {reserved[ip]}; pick another address")
        if ip in taken:
            raise ConfigError(req.cluster_ip_key, f"{ip} is already the address of {taken[ip]}; give each Service its own address")
        if band_set and ip not in band_set:
            outside_band.append(req)
        taken[ip] = req.service
    return taken, outside_band


def _outside_band_warning(outside_band: list[AddressRequest], cidr: ipaddress.IPv4Network) -> str:
    """One line for all of them, saying why it matters and when it does not."""
    pins = ", ".join(f"msa:{r.cluster_ip_key} {r.cluster_ip}" for r in outside_band)
    return (
        f"{pins}: outside the static band {cidr.network_address}-{cidr.network_address + static_band_size(cidr) - 1} of {cidr}, "
        "so the API server may give the address to another Service before this one exists (\"provided IP is already allocated\"); "
        "fine where the Service already holds it (the committed stacks pin the team's existing addresses), "
        "else pick an address inside the band or drop clusterIP"
    )


def _automatic_addresses(requests: list[AddressRequest], band: list[ipaddress.IPv4Address],
                         taken: dict[ipaddress.IPv4Address, str], cidr: ipaddress.IPv4Network) -> None:
    """Every Service without clusterIP gets the address its name derives (into `taken`), or a refusal."""
    by_name = {r.service: r for r in requests}
    automatic = [r for r in requests if r.cluster_ip is None]
    derived = {r.service: derived_address(r.service, band) for r in automatic}
    # Names sorted: which of two colliding Services is blamed never depends on the order of the config.
    for req in sorted(automatic, key=lambda r: r.service):
        ip = derived[req.service]
        if ip not in taken:
            taken[ip] = req.service
            continue
        busy = set(taken) | set(derived.values())
        start = band.index(ip)
        free = next((a for a in band[start:] + band[:start] if a not in busy), None)
        v0_1 = v0_1_automatic_addresses([r.service for r in automatic], band, {r.cluster_ip for r in requests if r.cluster_ip})
        raise _collision(req, by_name[taken[ip]], ip, free, v0_1)


def _node_ports(requests: list[AddressRequest], node_port_range: range, node_port_range_key: str) -> dict[str, int]:
    node_ports: dict[str, int] = {}
    used_ports: dict[int, str] = {}
    for req in requests:
        port = req.node_port
        if port is None:
            continue
        if port not in node_port_range:
            raise ConfigError(
                req.node_port_key,
                f"{port} is outside the NodePort range {node_port_range.start}-{node_port_range.stop - 1} (msa:{node_port_range_key}); pick a port inside it",
            )
        if port in used_ports:
            raise ConfigError(req.node_port_key, f"{port} is already the NodePort of {used_ports[port]}; give each Service its own port")
        used_ports[port] = req.service
        node_ports[req.service] = port
    return node_ports
