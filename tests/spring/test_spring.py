"""Spring Cloud services: Eureka registers each Service's fixed ClusterIP, settings in one JSON."""

import json

import pytest
import yaml

from msa.spring.settings import config_retry_attempts, spring_application_json
from conftest import by_name, env_of, run_stack, stack_values

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
    assert kafka["bootstrap-servers"] == "kafka-bootstrap.msa.svc.cluster.local:9094"
    assert kafka["producer"]["transaction-id-prefix"] == "store-service-$(POD_NAME)-"
    env = by_name(dev, "Deployment", "store-service")["spec"]["template"]["spec"]["containers"][0]["env"]
    names = [e["name"] for e in env]
    assert names.index("POD_NAME") < names.index("SPRING_APPLICATION_JSON")
    assert "kafka" not in spring_json(dev, "user-service")["spring"]


def test_plain_kafka_producers_get_no_transaction_prefix():
    def edit(values):
        values["msa:services"]["store-service"]["kafka"] = {"transactional": False}

    kafka = spring_json(run_stack("dev", edit), "store-service")["spring"]["kafka"]
    assert kafka == {"bootstrap-servers": "kafka-bootstrap.msa.svc.cluster.local:9094", "security": {"protocol": "SASL_PLAINTEXT"},
                     "properties": {"sasl.mechanism": "SCRAM-SHA-512"}}


def test_config_clients_import_the_config_service_and_retry_until_it_answers(dev):
    uri = "http://config-service.msa.svc.cluster.local:8888"
    for name in ["apigateway-service", "user-service", "store-service"]:
        spring = spring_json(dev, name)["spring"]
        assert spring["config"]["import"] == f"optional:configserver:{uri}"
        client = spring["cloud"]["config"]
        assert client["uri"] == uri  # for an app whose own yml imports `optional:configserver:` without a URL
        assert client["failFast"] is True  # without it, an early start runs on without config
        assert client["retry"]["maxAttempts"] == config_retry_attempts(180)
    assert "config" not in spring_json(dev, "discovery-service")["spring"]


def test_config_retry_stays_within_half_the_startup_budget():
    for seconds in (10, 60, 180, 600):
        attempts = config_retry_attempts(seconds)
        delays = [min(1000 * 1.5 ** i, 5000) for i in range(attempts - 1)]
        assert attempts >= 6 and (attempts == 6 or sum(delays) <= seconds * 500 < sum(delays) + 5000), seconds


def test_actuator_exposure_is_config_repo_business(dev):
    """SPRING_APPLICATION_JSON outranks config-repo: an exposure pinned there hid /actuator/refresh."""
    for name in SERVICES:
        assert "endpoints" not in spring_json(dev, name)["management"], name
    application = yaml.safe_load(by_name(dev, "ConfigMap", "config-repo")["data"]["application.yml"])
    assert application["management"]["endpoints"]["web"]["exposure"]["include"] == "health,info,refresh"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_replica_registers_under_its_own_instance_id(stack, request):
    for name in SERVICES:
        assert spring_json(request.getfixturevalue(stack), name)["eureka"]["instance"]["instanceId"] == f"{name}:$(POD_NAME)"


def test_config_server_serves_the_config_repo_folder(dev):
    settings = spring_json(dev, "config-service")["spring"]
    assert settings["profiles"]["active"] == "native"
    location = settings["cloud"]["config"]["server"]["native"]["searchLocations"]
    pod = by_name(dev, "Deployment", "config-service")["spec"]["template"]["spec"]
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "config-repo"]
    assert location == f"file:{mount['mountPath']}/"
    assert "subPath" not in mount  # edits propagate only to whole-directory mounts
    (volume,) = [v for v in pod["volumes"] if v["name"] == "config-repo"]
    config_map = by_name(dev, "ConfigMap", volume["configMap"]["name"])
    assert "application.yml" in config_map["data"]


def test_discovery_server_is_standalone_with_fast_eviction(dev):
    eureka = spring_json(dev, "discovery-service")["eureka"]
    assert eureka["client"]["registerWithEureka"] is False and eureka["client"]["fetchRegistry"] is False
    assert eureka["server"] == {"enableSelfPreservation": False, "evictionIntervalTimerInMs": 10000, "useReadOnlyResponseCache": False,
                                "myUrl": eureka["client"]["serviceUrl"]["defaultZone"]}  # not its own peer
    assert by_name(dev, "Service", "discovery-service")["spec"]["ports"][0]["nodePort"] == 30007


def test_gateway_routes_and_pool_under_both_gateway_keys(dev):
    """4.1/4.2 read spring.cloud.gateway.*, 4.3/5.0 spring.cloud.gateway.server.webflux.*: both are written."""
    gateway = spring_json(dev, "apigateway-service")["spring"]["cloud"]["gateway"]
    for keys in (gateway, gateway["server"]["webflux"]):
        assert keys["routes"] == [{"id": "user-service", "uri": "lb://user-service", "predicates": ["Path=/user-service/**"]}]
        assert keys["httpclient"]["pool"] == {"maxIdleTime": "10s", "maxLifeTime": "60s"}
    assert by_name(dev, "Service", "apigateway-service")["spec"]["ports"][0]["nodePort"] == 30010


def test_gateway_strip_prefix():
    def edit(values):
        values["msa:services"]["apigateway-service"]["routes"] = [
            {"path": "/user-service/**", "service": "user-service", "stripPrefix": 1},
            {"path": "/store/**", "service": "store-service"},
        ]

    gateway = spring_json(run_stack("dev", edit), "apigateway-service")["spring"]["cloud"]["gateway"]
    assert gateway["routes"] == gateway["server"]["webflux"]["routes"] == [
        {"id": "user-service", "uri": "lb://user-service", "predicates": ["Path=/user-service/**"], "filters": ["StripPrefix=1"]},
        {"id": "store-service", "uri": "lb://store-service", "predicates": ["Path=/store/**"]},
    ]


def test_service_dns_registration_mode():
    result = run_stack("dev", lambda v: v.setdefault("msa:spring", {}).update(registration="serviceDns"))
    instance = spring_json(result, "user-service")["eureka"]["instance"]
    assert instance == {"preferIpAddress": False, "hostname": "user-service.msa.svc.cluster.local", "nonSecurePort": 46279,
                        "instanceId": "user-service:$(POD_NAME)"}


def test_pod_ip_registration_mode_uses_the_downward_api():
    result = run_stack("dev", lambda v: v.setdefault("msa:spring", {}).update(registration="podIP"))
    assert spring_json(result, "user-service")["eureka"]["instance"]["ipAddress"] == "$(POD_IP)"
    assert env_of(by_name(result, "Deployment", "user-service"))["POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}


def test_a_service_added_to_the_config_gets_the_same_treatment(dev):
    def edit(values):
        values["msa:services"]["order-service"] = {"image": "orderservice", "tag": "2.1", "port": 8081}

    result = run_stack("dev", edit)
    service = by_name(result, "Service", "order-service")
    assert spring_json(result, "order-service")["eureka"]["instance"]["ipAddress"] == service["spec"]["clusterIP"]
    assert service["spec"]["clusterIP"].startswith("10.96.0.")
    # Adding it moved nobody else.
    before = dev.exports["clusterIPs"]
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
        # The guard refuses a moved ClusterIP first; a Kafka client's objects wait for its SCRAM user too.
        # (and the brokers' second roll of a move to authentication: kafka-auth-roll)
        users = ["kafka-scram-users", "kafka-auth-roll"] if stack_values("dev")["msa:services"][name].get("kafka") else []
        assert sorted(d.rsplit("::", 1)[-1] for d in services[name].dependencies) == sorted(["address-guard", "namespace", *users]), name
    assert any(d.endswith("::config-repo") for d in deployments["config-service"].dependencies)
