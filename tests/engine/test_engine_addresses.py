"""Addresses through the real engine (docs/configuration.md "Addresses"): adding or removing a service
replaces no Service and moves no other ClusterIP; a changed address of an existing Service is refused by
the address guard before anything changes, and goes through once msa:allowAddressChange names it."""

from __future__ import annotations

import ipaddress

import pytest
from pulumi import automation as auto

from msa.addressing import derived_address, static_band

pytestmark = [pytest.mark.engine, pytest.mark.integration]

AUTH = {"image": "authservice", "tag": "1.0", "port": 8090}


def _no_mirror(config: dict) -> None:
    """The third-party images are pulled as configured: copying them into Harbor needs a Harbor. So
    does reading the prebuilt services' digests (push: direct/relay), so push: none keeps their tags."""
    config["msa:harbor"]["mirror"] = "off"
    config["msa:harbor"]["push"] = "none"


def _services(control_plane) -> dict[str, tuple[str, str]]:
    """Service name -> (ClusterIP, uid): a replaced Service has a new uid even at the same address."""
    return {s["metadata"]["name"]: (s["spec"]["clusterIP"], s["metadata"]["uid"]) for s in control_plane.items("services")}


def _replaced_services(run) -> dict[str, str]:
    return {k: op for k, op in run.changed().items() if k.startswith("Service/") and op in ("replace", "delete")}


def test_add_a_service_no_service_replaced_no_other_cluster_ip_changed(engine_stack, control_plane):
    stack = engine_stack("dev", edit=_no_mirror)
    stack.up()
    before = _services(control_plane)

    stack.edit(lambda c: c["msa:services"].update({"auth-service": AUTH}))
    preview = stack.preview()
    assert _replaced_services(preview) == {}, preview.changed()
    added = stack.up()
    assert _replaced_services(added) == {}, added.changed()
    assert added.changed()["Service/auth-service"] == "create"
    after = _services(control_plane)
    assert {name: after[name] for name in before} == before      # same address, same object
    assert after["auth-service"][0] == str(derived_address("auth-service", static_band(ipaddress.IPv4Network("10.96.0.0/12"))))

    # Removing it again deletes only its own Service.
    stack.edit(lambda c: c["msa:services"].pop("auth-service"))
    removed = stack.up()
    assert {k for k, op in removed.changed().items() if k.startswith("Service/")} == {"Service/auth-service"}
    assert _services(control_plane) == before


def test_a_moved_address_is_refused_until_allowed(engine_stack, control_plane):
    stack = engine_stack("dev", edit=_no_mirror)
    stack.up()
    before = _services(control_plane)

    stack.edit(lambda c: c["msa:services"]["user-service"].update(clusterIP="10.96.0.77"))
    with pytest.raises(auto.CommandError) as refused:
        stack.preview()
    assert "user-service: its Service has ClusterIP 10.104.193.23 and would get 10.96.0.77" in str(refused.value)
    with pytest.raises(auto.CommandError):
        stack.up()
    assert _services(control_plane) == before                      # nothing changed on the cluster

    stack.edit(lambda c: c.update({"msa:allowAddressChange": ["user-service"]}))
    moved = stack.up()
    assert _replaced_services(moved) == {"Service/user-service": "replace"}, moved.changed()
    after = _services(control_plane)
    assert after["user-service"][0] == "10.96.0.77"
    assert {n: v for n, v in after.items() if n != "user-service"} == {n: v for n, v in before.items() if n != "user-service"}


def test_a_context_the_kubeconfig_lacks_is_refused_in_one_line(engine_stack, control_plane):
    """At preview/up (never in the offline render) kubernetes:context must be in the kubeconfig."""
    stack = engine_stack("dev", edit=lambda c: (_no_mirror(c), c.update({"kubernetes:context": "private-clod"})))
    with pytest.raises(auto.CommandError) as refused:
        stack.preview()
    assert ("kubernetes:context: context 'private-clod' is not in the kubeconfig" in str(refused.value)
            and "did you mean private-cloud?" in str(refused.value))
    assert control_plane.items("services") == []
