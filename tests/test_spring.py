"""Spring Cloud services: Eureka registers each Service's fixed ClusterIP, settings in one JSON."""

import json

import pytest

from components.spring import spring_application_json
from conftest import by_name, env_of, run_stack

SERVICES = ["discovery-service", "config-service", "apigateway-service", "user-service", "store-service"]


def spring_json(result, name) -> dict:
    raw = env_of(by_name(result, "Deployment", name))["SPRING_APPLICATION_JSON"]
    # The kubelet turns $$( into $( ; no other $( may appear unescaped.
    return json.loads(raw.replace("$$(", "$("))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_service_registers_its_own_cluster_ip(stack, request):
    result = request.getfixturevalue(stack)
    for name in SERVICES:
        settings = spring_json(result, name)
        service = by_name(result, "Service", name)
        instance = settings["eureka"]["instance"]
        assert instance["preferIpAddress"] is True
        assert instance["ipAddress"] == service["spec"]["clusterIP"], name
        assert instance["nonSecurePort"] == service["spec"]["ports"][0]["port"] == settings["server"]["port"]
        assert settings["spring"]["application"]["name"] == name == service["metadata"]["name"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_default_zone_points_at_the_discovery_service(stack, request):
    result = request.getfixturevalue(stack)
    discovery = by_name(result, "Service", "discovery-service")["spec"]["ports"][0]["port"]
    for name in SERVICES:
        zone = spring_json(result, name)["eureka"]["client"]["serviceUrl"]["defaultZone"]
        assert zone == f"http://discovery-service.msa.svc.cluster.local:{discovery}/eureka/"


def test_pinned_addresses_from_the_stack_config(dev):
    assert by_name(dev, "Service", "user-service")["spec"]["clusterIP"] == "10.104.193.23"
    assert by_name(dev, "Service", "store-service")["spec"]["clusterIP"] == "10.104.193.24"


def test_every_service_of_the_stack_has_a_fixed_address_and_is_replaced_delete_first(dev):
    services = [r for r in dev.resources if r.type == "kubernetes:core/v1:Service"]
    for service in services:
        ip = service.inputs["spec"]["clusterIP"]
        assert ip, service.name
        if ip != "None":
            assert service.delete_before_replace, service.name


def test_store_service_talks_to_kafka_with_a_per_pod_transaction_prefix(dev):
    kafka = spring_json(dev, "store-service")["spring"]["kafka"]
    assert kafka["bootstrap-servers"] == "kafka-bootstrap.msa.svc.cluster.local:9092"
    assert kafka["producer"]["transaction-id-prefix"] == "store-service-$(POD_NAME)-"
    env = by_name(dev, "Deployment", "store-service")["spec"]["template"]["spec"]["containers"][0]["env"]
    names = [e["name"] for e in env]
    assert names.index("POD_NAME") < names.index("SPRING_APPLICATION_JSON")
    assert "kafka" not in spring_json(dev, "user-service")["spring"]


def test_config_clients_use_the_config_service(dev):
    for name in ["discovery-service", "apigateway-service", "user-service", "store-service"]:
        assert spring_json(dev, name)["spring"]["cloud"]["config"]["uri"] == "http://config-service.msa.svc.cluster.local:8888"


def test_config_server_serves_the_config_repo_folder(dev):
    settings = spring_json(dev, "config-service")["spring"]
    assert settings["profiles"]["active"] == "native"
    location = settings["cloud"]["config"]["server"]["native"]["searchLocations"]
    pod = by_name(dev, "Deployment", "config-service")["spec"]["template"]["spec"]
    (mount,) = pod["containers"][0]["volumeMounts"]
    assert location == f"file:{mount['mountPath']}/"
    assert "subPath" not in mount  # edits propagate only to whole-directory mounts
    (volume,) = pod["volumes"]
    config_map = by_name(dev, "ConfigMap", volume["configMap"]["name"])
    assert "application.yml" in config_map["data"]


def test_discovery_server_is_standalone_with_fast_eviction(dev):
    eureka = spring_json(dev, "discovery-service")["eureka"]
    assert eureka["client"]["registerWithEureka"] is False and eureka["client"]["fetchRegistry"] is False
    assert eureka["server"] == {"enableSelfPreservation": False, "evictionIntervalTimerInMs": 10000}
    assert by_name(dev, "Service", "discovery-service")["spec"]["ports"][0]["nodePort"] == 30007


def test_gateway_routes_as_configured_for_gateway_4_3(dev):
    routes = spring_json(dev, "apigateway-service")["spring"]["cloud"]["gateway"]["server"]["webflux"]["routes"]
    assert routes == [{"id": "user-service", "uri": "lb://user-service", "predicates": ["Path=/user-service/**"]}]
    assert by_name(dev, "Service", "apigateway-service")["spec"]["ports"][0]["nodePort"] == 30010


def test_gateway_4_2_uses_the_old_property_and_strip_prefix():
    def edit(values):
        values.setdefault("msa:spring", {})["gatewayVersion"] = "4.2"
        values["msa:services"]["apigateway-service"]["routes"] = [
            {"path": "/user-service/**", "service": "user-service", "stripPrefix": 1},
            {"path": "/store/**", "service": "store-service"},
        ]

    gateway = spring_json(run_stack("dev", edit), "apigateway-service")["spring"]["cloud"]["gateway"]
    assert "server" not in gateway
    assert gateway["routes"] == [
        {"id": "user-service", "uri": "lb://user-service", "predicates": ["Path=/user-service/**"], "filters": ["StripPrefix=1"]},
        {"id": "store-service", "uri": "lb://store-service", "predicates": ["Path=/store/**"]},
    ]


def test_service_dns_registration_mode():
    result = run_stack("dev", lambda v: v.setdefault("msa:spring", {}).update(registration="serviceDns"))
    instance = spring_json(result, "user-service")["eureka"]["instance"]
    assert instance == {"preferIpAddress": False, "hostname": "user-service.msa.svc.cluster.local", "nonSecurePort": 46279}


def test_pod_ip_registration_mode_uses_the_downward_api():
    result = run_stack("dev", lambda v: v.setdefault("msa:spring", {}).update(registration="podIP"))
    assert spring_json(result, "user-service")["eureka"]["instance"]["ipAddress"] == "$(POD_IP)"
    assert env_of(by_name(result, "Deployment", "user-service"))["POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}


def test_a_service_added_to_the_config_gets_the_same_treatment():
    def edit(values):
        values["msa:services"]["order-service"] = {"image": "orderservice", "tag": "2.1", "port": 8081}

    result = run_stack("dev", edit)
    service = by_name(result, "Service", "order-service")
    assert spring_json(result, "order-service")["eureka"]["instance"]["ipAddress"] == service["spec"]["clusterIP"]
    assert service["spec"]["clusterIP"].startswith("10.96.0.")
    # Adding it moved nobody else.
    before = run_stack("dev").exports["clusterIPs"]
    assert {k: v for k, v in result.exports["clusterIPs"].items() if k in before} == before


def test_every_spring_pod_has_probes_limits_and_a_graceful_stop(prod):
    for name in SERVICES:
        pod = by_name(prod, "Deployment", name)["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["startupProbe"]["httpGet"]["path"] == "/actuator/health/liveness"
        assert container["startupProbe"]["periodSeconds"] * container["startupProbe"]["failureThreshold"] >= 180
        assert container["livenessProbe"]["httpGet"]["path"] == "/actuator/health/liveness"
        assert container["readinessProbe"]["httpGet"]["path"] == "/actuator/health/readiness"
        assert set(container["resources"]["limits"]) == {"cpu", "memory"}
        assert "MaxRAMPercentage" in env_of(by_name(prod, "Deployment", name))["JAVA_TOOL_OPTIONS"]
        assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
        assert pod["enableServiceLinks"] is False
        labels = by_name(prod, "Deployment", name)["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == name and labels["app.kubernetes.io/part-of"] == "msa"


def test_literal_dollar_parens_in_settings_are_escaped_for_the_kubelet():
    text = spring_application_json({"a": "cost $(not-a-var)", "b": "x-$(POD_NAME)-"})
    assert "$$(not-a-var)" in text and '"x-$(POD_NAME)-"' in text


def test_spring_pods_wait_only_for_what_they_need(dev):
    deployments = {r.name: r for r in dev.resources if r.type == "kubernetes:apps/v1:Deployment"}
    services = {r.name: r for r in dev.resources if r.type == "kubernetes:core/v1:Service"}
    for name in SERVICES:
        deps = deployments[name].dependencies
        assert any("command:remote:Command" in d for d in deps), name  # the node trusts Harbor first
        assert any(d.endswith("::harbor-pull") for d in deps), name
        assert not any("SpringService" in d for d in deps), name  # no serial rollout of the services
        assert [d.rsplit("::", 1)[-1] for d in services[name].dependencies] == ["namespace"]
    assert any(d.endswith("::config-repo") for d in deployments["config-service"].dependencies)
