"""The address plan: fixed, deterministic ClusterIPs and checked NodePorts."""

import ipaddress

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from msa.addressing import AddressRequest, plan_addresses, reserved_addresses, static_band, static_band_size
from msa.errors import ConfigError

CIDR = ipaddress.IPv4Network("10.96.0.0/12")
PORTS = range(30000, 32768)
names = st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True)


def auto(*services):
    return [AddressRequest(s, None, f"services.{s}.clusterIP") for s in services]


@pytest.mark.parametrize("cidr, size", [("10.96.0.0/12", 256), ("10.0.0.0/24", 16), ("10.0.0.0/20", 256), ("10.0.0.0/22", 64), ("10.0.0.0/28", 16), ("10.0.0.0/29", 0)])
def test_static_band_size_follows_kep_3070(cidr, size):
    assert static_band_size(ipaddress.IPv4Network(cidr)) == size


def test_band_skips_network_api_and_dns_addresses():
    band = static_band(CIDR)
    assert ipaddress.IPv4Address("10.96.0.0") not in band
    assert ipaddress.IPv4Address("10.96.0.1") not in band
    assert ipaddress.IPv4Address("10.96.0.10") not in band
    assert band[0] == ipaddress.IPv4Address("10.96.0.2") and band[-1] == ipaddress.IPv4Address("10.96.0.255")


@given(st.lists(names, min_size=1, max_size=30, unique=True))
def test_automatic_addresses_are_deterministic_unique_and_in_the_band(services):
    first = plan_addresses(auto(*services), CIDR, PORTS).cluster_ips
    again = plan_addresses(auto(*reversed(services)), CIDR, PORTS).cluster_ips
    assert first == again
    assert len(set(first.values())) == len(services)
    band = {str(a) for a in static_band(CIDR)}
    assert set(first.values()) <= band


@given(st.lists(names, min_size=1, max_size=12, unique=True), names)
def test_adding_a_service_moves_no_other_unless_slots_collide(services, newcomer):
    assume(newcomer not in services)
    before = plan_addresses(auto(*services), CIDR, PORTS).cluster_ips
    after = plan_addresses(auto(*services, newcomer), CIDR, PORTS).cluster_ips
    if after[newcomer] == _preferred(newcomer) and _preferred(newcomer) not in before.values():
        # The newcomer got its own slot, which nobody held: nothing else may have moved.
        assert {k: after[k] for k in before} == before


def _preferred(service):
    from msa.addressing import _preferred_slot

    band = static_band(CIDR)
    return str(band[_preferred_slot(service, len(band))])


def test_explicit_address_is_kept_and_never_handed_out_again():
    requests = [AddressRequest("user-service", ipaddress.IPv4Address("10.96.0.50"), "services.user-service.clusterIP"), *auto(*[f"svc-{i}" for i in range(200)])]
    plan = plan_addresses(requests, CIDR, PORTS)
    assert plan.cluster_ips["user-service"] == "10.96.0.50"
    assert list(plan.cluster_ips.values()).count("10.96.0.50") == 1


def test_explicit_addresses_outside_the_band_warn_once_with_the_fix():
    pins = [AddressRequest(s, ipaddress.IPv4Address(ip), f"services.{s}.clusterIP") for s, ip in (("u", "10.104.193.23"), ("s", "10.104.193.24"))]
    plan = plan_addresses(pins, CIDR, PORTS)
    (warning,) = plan.warnings
    assert warning.startswith("msa:services.u.clusterIP 10.104.193.23, msa:services.s.clusterIP 10.104.193.24: outside the static band 10.96.0.0-10.96.0.255")
    assert warning.endswith("else pick an address inside the band or drop clusterIP")


def test_addresses_inside_the_band_do_not_warn():
    plan = plan_addresses([AddressRequest("u", ipaddress.IPv4Address("10.96.0.50"), "services.u.clusterIP")], CIDR, PORTS)
    assert plan.warnings == []


def test_a_full_band_is_a_config_error():
    small = ipaddress.IPv4Network("10.0.0.0/24")  # band of 16, 3 of them reserved (network, API, DNS)
    with pytest.raises(ConfigError) as caught:
        plan_addresses(auto(*[f"s{i}" for i in range(14)]), small, PORTS)
    assert caught.value.key.startswith("services.s") and "static band of 10.0.0.0/24 is full" in str(caught.value)


def test_a_range_too_small_for_every_service_blames_the_cidr():
    tiny = ipaddress.IPv4Network("10.0.0.0/28")  # 16 addresses, 4 reserved (network, API, DNS, broadcast)
    with pytest.raises(ConfigError) as caught:
        plan_addresses(auto(*[f"s{i}" for i in range(13)]), tiny, PORTS)
    assert str(caught.value).startswith("msa:cluster.serviceCidr: 10.0.0.0/28 has 12 addresses for Services but the stack needs 13")


@pytest.mark.parametrize("cidr", ["10.0.0.0/29", "10.0.0.0/28", "10.0.0.16/28"])
def test_a_small_range_hands_out_only_its_own_addresses(cidr):
    network = ipaddress.IPv4Network(cidr)
    usable = network.num_addresses - len(reserved_addresses(network))
    plan = plan_addresses(auto(*[f"s{i}" for i in range(usable)]), network, PORTS)
    assert all(ipaddress.IPv4Address(ip) in network for ip in plan.cluster_ips.values())
    assert len(set(plan.cluster_ips.values())) == usable


def test_reserved_addresses_are_rejected():
    for ip in reserved_addresses(CIDR):
        with pytest.raises(ConfigError, match="is reserved"):
            plan_addresses([AddressRequest("u", ip, "services.u.clusterIP")], CIDR, PORTS)


def test_node_ports_checked_against_the_configured_range():
    requests = [AddressRequest("g", None, "services.g.clusterIP", 31000, "services.g.nodePort")]
    assert plan_addresses(requests, CIDR, range(30000, 32768)).node_ports == {"g": 31000}
    with pytest.raises(ConfigError) as caught:
        plan_addresses(requests, CIDR, range(30000, 30100), "cluster.nodePortRange")
    assert str(caught.value).startswith("msa:services.g.nodePort: 31000 is outside the NodePort range 30000-30099 (msa:cluster.nodePortRange)")
