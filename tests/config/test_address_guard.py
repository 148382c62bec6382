"""An existing Service's ClusterIP never changes unless msa:allowAddressChange names it (msa/address_guard.py)."""

from msa.address_guard import ALLOW_KEY, AddressGuardProvider, address_change_problems, guard_inputs
from conftest import config_error, objects, run_stack

OLD = guard_inputs({"user-service": "10.96.0.20", "zookeeper": "10.96.0.96"}, [])


def test_a_first_deploy_an_unchanged_plan_a_new_and_a_removed_service_pass():
    assert address_change_problems({}, OLD) == []
    assert address_change_problems(OLD, OLD) == []
    assert address_change_problems(OLD, guard_inputs({"user-service": "10.96.0.20", "zookeeper": "10.96.0.96", "auth-service": "10.96.0.30"}, [])) == []
    assert address_change_problems(OLD, guard_inputs({"zookeeper": "10.96.0.96"}, [])) == []


def test_a_changed_address_is_refused_with_one_line_saying_how_to_keep_or_allow_it():
    ((key, message),) = address_change_problems(OLD, guard_inputs({"user-service": "10.96.0.21", "zookeeper": "10.96.0.96"}, []))
    assert key == "clusterIP.user-service" and "\n" not in message
    assert message == ("user-service: its Service has ClusterIP 10.96.0.20 and would get 10.96.0.21 (re-created, its clients lose the address); "
                       "keep it (msa:services.user-service.clusterIP: 10.96.0.20, or the old msa:cluster.serviceCidr) or allow it once with "
                       "msa:allowAddressChange: [user-service]")


def test_an_allowed_change_passes_for_the_named_service_only():
    new = guard_inputs({"user-service": "10.96.0.21", "zookeeper": "10.96.1.96"}, ["user-service"])
    assert [key for key, _ in address_change_problems(OLD, new)] == ["clusterIP.zookeeper"]


def test_the_provider_refuses_through_check_with_the_recorded_inputs_as_olds():
    new = guard_inputs({"user-service": "10.104.0.20", "zookeeper": "10.96.0.96"}, [])
    result = AddressGuardProvider().check({**OLD, "__provider": "…"}, new)
    assert [f.property for f in result.failures] == ["clusterIP.user-service"]
    assert AddressGuardProvider().check({}, new).failures == []
    assert AddressGuardProvider().diff("cluster-ips", OLD, {**OLD, ALLOW_KEY: "user-service"}).changes


def test_every_service_waits_for_the_guard_which_records_every_exported_address(dev):
    (guard,) = [r for r in dev.resources if r.name == "address-guard"]
    services = {o["metadata"]["name"]: o["spec"]["clusterIP"] for o in objects(dev, "Service") if o["spec"].get("clusterIP") not in (None, "None")}
    assert {k[len("clusterIP."):]: v for k, v in guard.inputs.items() if k.startswith("clusterIP.")} == services
    for record in dev.of_type("kubernetes:core/v1:Service"):
        if record.name in services:  # headless Services have no address to guard
            assert guard.urn in record.dependencies, record.name


def test_allow_address_change_names_a_service_of_the_stack():
    message = config_error(lambda v: v.update({"msa:allowAddressChange": ["user-servce"]}))
    assert message.startswith("msa:allowAddressChange[0]: 'user-servce' is not a Service of this stack; did you mean user-service? use one of: ")


def test_allow_address_change_warns_on_every_run_while_it_is_set():
    result = run_stack("dev", lambda v: v.update({"msa:allowAddressChange": ["user-service"]}))
    (guard,) = [r for r in result.resources if r.name == "address-guard"]
    assert guard.inputs[ALLOW_KEY] == "user-service"
    assert any(w.startswith("msa:allowAddressChange: the ClusterIPs of user-service may change") for w in result.warnings)
