"""The stack's address plan: a fixed ClusterIP for every Service that has one, and checked NodePorts.

Pure code, computed once before any resource exists. Why fixed addresses: Eureka clients register
their Service's ClusterIP (`spring.registration: clusterIP`), so the address must be known before the
Deployment is written and must not change when a Service is re-created.

Automatic addresses come from the *static band* of the service CIDR (KEP-3070: the first
min(max(16, size/16), 256) addresses), which the API server's dynamic allocator uses last, so a
hand-picked address there rarely collides with a Service someone else creates.
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


def plan_addresses(
    requests: list[AddressRequest],
    cidr: ipaddress.IPv4Network,
    node_port_range: range,
    node_port_range_key: str = "cluster.nodePortRange",
    cidr_key: str = "cluster.serviceCidr",
) -> AddressPlan:
    """Check explicit addresses, then give every other Service a deterministic one from the band.

    An automatic address depends only on the Service's own name, except when two names hash to the
    same slot; then the name that sorts first keeps it and the other takes the next free slot. Adding
    a Service therefore moves no other Service unless their slots collide; pin `clusterIP` in the
    stack config to freeze an address for good.
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
    # In the order they were given: the pinned addresses, then the automatic ones by slot.
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
    """Every Service without clusterIP gets its preferred slot of the band, or the next free one (into `taken`)."""
    automatic = sorted((r for r in requests if r.cluster_ip is None), key=lambda r: (_preferred_slot(r.service, len(band)), r.service))
    for req in automatic:
        start = _preferred_slot(req.service, len(band))
        for step in range(len(band)):
            candidate = band[(start + step) % len(band)]
            if candidate not in taken:
                break
        else:
            raise ConfigError(req.cluster_ip_key, f"the static band of {cidr} is full; set clusterIP explicitly to a free address of {cidr}")
        taken[candidate] = req.service


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
