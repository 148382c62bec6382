"""The address plan: fixed, deterministic ClusterIPs and checked NodePorts."""

import ipaddress

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from msa.addressing import (
    AddressRequest, derived_address, plan_addresses, reserved_addresses, static_band, static_band_size, v0_1_automatic_addresses,
)
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


def _plan_or_refusal(requests, cidr=CIDR):
    try:
        return plan_addresses(requests, cidr, PORTS).cluster_ips
    except ConfigError as error:
        assert "\n" not in str(error)
        return None


@given(st.lists(names, min_size=1, max_size=30, unique=True))
def test_automatic_addresses_are_deterministic_unique_and_in_the_band(services):
    first = _plan_or_refusal(auto(*services))
    again = _plan_or_refusal(auto(*reversed(services)))
    assert first == again
    if first is not None:
        assert len(set(first.values())) == len(services)
        band = {str(a) for a in static_band(CIDR)}
        assert set(first.values()) <= band


@given(st.lists(names, min_size=1, max_size=30, unique=True))
def test_an_automatic_address_is_the_names_own_derivation(services):
    band = static_band(CIDR)
    plan = _plan_or_refusal(auto(*services))
    if plan is not None:
        assert plan == {s: str(derived_address(s, band)) for s in services}


@given(st.lists(names, min_size=1, max_size=12, unique=True), names)
def test_adding_a_service_moves_no_other_address(services, newcomer):
    assume(newcomer not in services)
    before = _plan_or_refusal(auto(*services))
    assume(before is not None)
    after = _plan_or_refusal(auto(*services, newcomer))
    # Either the newcomer is refused (its address is taken) or every other address stays.
    assert after is None or {k: after[k] for k in before} == before


@given(st.lists(names, min_size=2, max_size=12, unique=True), st.data())
def test_removing_a_service_moves_no_other_address(services, data):
    before = _plan_or_refusal(auto(*services))
    assume(before is not None)
    gone = data.draw(st.sampled_from(services))
    after = _plan_or_refusal(auto(*[s for s in services if s != gone]))
    assert after == {k: v for k, v in before.items() if k != gone}


@given(st.lists(names, min_size=2, max_size=12, unique=True), st.data())
def test_pinning_a_service_moves_no_other_address(services, data):
    before = _plan_or_refusal(auto(*services))
    assume(before is not None)
    pinned = data.draw(st.sampled_from(services))
    address = data.draw(st.sampled_from(static_band(CIDR)))
    requests = [AddressRequest(s, address if s == pinned else None, f"services.{s}.clusterIP") for s in services]
    after = _plan_or_refusal(requests)
    if after is not None:
        assert after[pinned] == str(address)
        assert {k: v for k, v in after.items() if k != pinned} == {k: v for k, v in before.items() if k != pinned}


def test_the_issue_case_auth_service_is_refused_naming_both_instead_of_moving_order_service():
    """Issue 20: adding auth-service moved order-service from .157 to .158 with exit 0."""
    base = ["discovery-service", "config-service", "apigateway-service", "order-service"]
    assert plan_addresses(auto(*base), CIDR, PORTS).cluster_ips["order-service"] == "10.96.0.157"
    with pytest.raises(ConfigError) as caught:
        plan_addresses(auto(*base, "auth-service"), CIDR, PORTS)
    message = str(caught.value)
    assert message.startswith("msa:services.order-service.clusterIP: auth-service and order-service both derive 10.96.0.157 from their names; "
                              "pin the new one (msa:services.auth-service.clusterIP or msa:services.order-service.clusterIP) to a free address, e.g. 10.96.0.158")
    # The upgrade from 0.1.0, where probing had given order-service .158: the message says so.
    assert "msa 0.1.0 has auth-service 10.96.0.157 and order-service 10.96.0.158" in message
    pinned = [*auto(*base), AddressRequest("auth-service", ipaddress.IPv4Address("10.96.0.158"), "services.auth-service.clusterIP")]
    assert plan_addresses(pinned, CIDR, PORTS).cluster_ips["order-service"] == "10.96.0.157"


def test_a_pin_on_another_services_derived_address_is_refused_not_moving_it():
    derived = str(derived_address("config-service", static_band(CIDR)))
    requests = [*auto("config-service"), AddressRequest("user-service", ipaddress.IPv4Address(derived), "services.user-service.clusterIP")]
    with pytest.raises(ConfigError) as caught:
        plan_addresses(requests, CIDR, PORTS)
    assert str(caught.value).startswith(f"msa:services.user-service.clusterIP: {derived} is the address config-service derives from its name; pin user-service to another free address, e.g. ")


def test_a_collision_with_a_kafka_service_blames_the_service_that_can_be_pinned():
    band = static_band(CIDR)
    twin = next(f"svc-{i}" for i in range(10000) if derived_address(f"svc-{i}", band) == derived_address("zookeeper", band))
    requests = [AddressRequest("zookeeper", None, "kafka.zookeeperReplicas"), *auto(twin)]
    with pytest.raises(ConfigError) as caught:
        plan_addresses(requests, CIDR, PORTS)
    assert caught.value.key == f"services.{twin}.clusterIP"


def test_v0_1_addresses_equal_the_derived_ones_wherever_nothing_collided():
    """The upgrade from 0.1.0 moves nothing: without a collision the two algorithms agree, and a
    collision (where 0.1.0 had probed) is refused, never moved."""
    band = static_band(CIDR)
    services = ["discovery-service", "config-service", "apigateway-service", "user-service", "store-service", "zookeeper", "kafka-bootstrap", "kafka-ui"]
    assert v0_1_automatic_addresses(services, band, set()) == {s: derived_address(s, band) for s in services}


def test_explicit_address_is_kept_and_never_handed_out_again():
    band = static_band(CIDR)
    twin = next(f"svc-{i}" for i in range(10000) if str(derived_address(f"svc-{i}", band)) == "10.96.0.50")
    pin = AddressRequest("user-service", ipaddress.IPv4Address("10.96.0.50"), "services.user-service.clusterIP")
    assert plan_addresses([pin, *auto("config-service")], CIDR, PORTS).cluster_ips["user-service"] == "10.96.0.50"
    with pytest.raises(ConfigError, match=f"10.96.0.50 is the address {twin} derives from its name"):
        plan_addresses([pin, *auto("config-service", twin)], CIDR, PORTS)


def test_explicit_addresses_outside_the_band_warn_once_with_the_fix():
    pins = [AddressRequest(s, ipaddress.IPv4Address(ip), f"services.{s}.clusterIP") for s, ip in (("u", "10.104.193.23"), ("s", "10.104.193.24"))]
    plan = plan_addresses(pins, CIDR, PORTS)
    (warning,) = plan.warnings
    assert warning.startswith("msa:services.u.clusterIP 10.104.193.23, msa:services.s.clusterIP 10.104.193.24: outside the static band 10.96.0.0-10.96.0.255")
    assert warning.endswith("else pick an address inside the band or drop clusterIP")


def test_addresses_inside_the_band_do_not_warn():
    plan = plan_addresses([AddressRequest("u", ipaddress.IPv4Address("10.96.0.50"), "services.u.clusterIP")], CIDR, PORTS)
    assert plan.warnings == []


def test_a_crowded_band_is_a_config_error_naming_the_pin():
    small = ipaddress.IPv4Network("10.0.0.0/24")  # band of 16, 3 of them reserved (network, API, DNS)
    with pytest.raises(ConfigError) as caught:
        plan_addresses(auto(*[f"s{i}" for i in range(14)]), small, PORTS)
    assert caught.value.key.startswith("services.s") and "both derive" in str(caught.value)


def test_a_range_too_small_for_every_service_blames_the_cidr():
    tiny = ipaddress.IPv4Network("10.0.0.0/28")  # 16 addresses, 4 reserved (network, API, DNS, broadcast)
    with pytest.raises(ConfigError) as caught:
        plan_addresses(auto(*[f"s{i}" for i in range(13)]), tiny, PORTS)
    assert str(caught.value).startswith("msa:cluster.serviceCidr: 10.0.0.0/28 has 12 addresses for Services but the stack needs 13")


@pytest.mark.parametrize("cidr", ["10.0.0.0/29", "10.0.0.0/28", "10.0.0.16/28"])
def test_a_small_range_hands_out_only_its_own_addresses(cidr):
    network = ipaddress.IPv4Network(cidr)
    usable = network.num_addresses - len(reserved_addresses(network))
    plan = _plan_or_refusal(auto(*[f"s{i}" for i in range(usable)]), network)
    if plan is not None:
        assert all(ipaddress.IPv4Address(ip) in network for ip in plan.values())
        assert len(set(plan.values())) == len(plan)


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
