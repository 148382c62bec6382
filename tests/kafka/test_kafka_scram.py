"""The brokers with msa:kafka.authentication: sasl: one SCRAM listener for clients and peers, the
brokers' own login from a Secret, every user's credential in ZooKeeper before a broker starts."""

import pytest

from msa.kafka.broker_auth import BROKER_JAAS_ENV, INTER_BROKER_SCRAM, OPEN, PHASES, SCRAM_ADDED, SCRAM_ONLY, listener_env, phase_env, phase_of
from msa.kafka.credentials import derived_password
from msa.names import KafkaNames
from conftest import TEST_AUTH_SECRET, by_name, env_of, objects, run_stack

NAMES = KafkaNames("msa", "cluster.local", sasl=True)


def sasl(values):
    values.setdefault("msa:kafka", {})["authentication"] = "sasl"


@pytest.fixture(scope="module")
def prod_sasl():
    return run_stack("prod", sasl)


def resource(result, kind, name):
    return next(r for r in result.resources if r.type.endswith(f":{kind}") and r.name == name)


def test_authenticated_brokers_listen_on_scram_only_and_talk_scram_to_each_other(prod_sasl):
    # A new cluster's brokers start scram-only (no phase ConfigMap value but that one).
    env = phase_env(env_of(by_name(prod_sasl, "StatefulSet", "kafka")), None)
    assert env["KAFKA_LISTENERS"] == "SCRAM://0.0.0.0:9094"
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "SCRAM://$(POD_NAME).kafka-headless.msa.svc.cluster.local:9094"
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] == "SCRAM"
    assert env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",") == ["PLAINTEXT:PLAINTEXT", "SCRAM:SASL_PLAINTEXT"]
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == env["KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL"] == "SCRAM-SHA-512"


def test_the_brokers_password_comes_from_their_secret_never_a_value(prod_sasl):
    sts = by_name(prod_sasl, "StatefulSet", "kafka")
    ref = env_of(sts)[BROKER_JAAS_ENV]["secretKeyRef"]
    secret = by_name(prod_sasl, "Secret", "kafka-user-broker")
    assert ref == {"name": secret["metadata"]["name"], "key": "sasl.jaas.config"}
    assert BROKER_JAAS_ENV == "KAFKA_LISTENER_NAME_SCRAM_SCRAM___SHA___512_SASL_JAAS_CONFIG"
    password = derived_password(TEST_AUTH_SECRET, "broker")
    for kind in ("StatefulSet", "Job", "ConfigMap", "Service"):
        assert password not in str(objects(prod_sasl, kind))


def test_probes_and_services_follow_the_scram_port(prod_sasl):
    sts = by_name(prod_sasl, "StatefulSet", "kafka")
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    assert container["startupProbe"]["tcpSocket"]["port"] == container["livenessProbe"]["tcpSocket"]["port"] == 9094
    assert container["readinessProbe"]["exec"]["command"][-2:] == ["9094", "/etc/kafka-client/client.properties"]
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/etc/kafka-client")
    volume = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["items"] == [{"key": "client.properties", "path": "client.properties"}]
    bootstrap = by_name(prod_sasl, "Service", "kafka-bootstrap")
    assert [p["port"] for p in bootstrap["spec"]["ports"]] == [9092, 9094]     # the open port where an open cluster had it


def test_every_user_is_stored_before_the_brokers_or_the_drain_change(prod_sasl):
    job = by_name(prod_sasl, "Job", "kafka-scram-users")
    users_secret = by_name(prod_sasl, "Secret", "kafka-scram-users")
    pod = job["spec"]["template"]["spec"]
    assert any(v.get("secret", {}).get("secretName") == users_secret["metadata"]["name"] for v in pod["volumes"])
    assert "kafka-configs --zookeeper" in pod["containers"][0]["command"][2]
    users = resource(prod_sasl, "Job", "kafka-scram-users")
    assert users.urn in resource(prod_sasl, "StatefulSet", "kafka").dependencies
    assert users.urn in resource(prod_sasl, "Job", "kafka-drain").dependencies


def test_users_are_the_brokers_the_admin_kafka_ui_and_each_kafka_service(prod_sasl):
    data = resource(prod_sasl, "Secret", "kafka-scram-users").inputs["stringData"]
    data = data.get("value", data)     # a secret Output is recorded wrapped
    services = {name for name, svc in __import__("conftest").stack_values("prod")["msa:services"].items() if svc.get("kafka")}
    assert set(data) == {"broker", "admin", "kafka-ui", *services} and services
    assert all(derived_password(TEST_AUTH_SECRET, u) == data[u] for u in data)


def test_an_open_cluster_has_no_scram_at_all(prod_open):
    env = env_of(by_name(prod_open, "StatefulSet", "kafka"))
    assert env["KAFKA_LISTENERS"] == "PLAINTEXT://0.0.0.0:9092" and BROKER_JAAS_ENV not in env
    assert not [j for j in objects(prod_open, "Job") if j["metadata"]["name"] == "kafka-scram-users"]


def test_every_phase_sets_the_same_variables_so_the_final_spec_owns_them_all():
    keys = {phase: set(listener_env(phase, NAMES)) for phase in PHASES if phase != OPEN}
    assert len({frozenset(k) for k in keys.values()}) == 1
    assert listener_env(SCRAM_ADDED, NAMES)["KAFKA_INTER_BROKER_LISTENER_NAME"] == "PLAINTEXT"
    assert listener_env(INTER_BROKER_SCRAM, NAMES)["KAFKA_LISTENERS"] == "PLAINTEXT://0.0.0.0:9092,SCRAM://0.0.0.0:9094"


@pytest.mark.parametrize("phase", PHASES)
def test_a_running_spec_tells_its_phase(phase):
    assert phase_of(listener_env(phase, NAMES)) == phase


def test_unknown_phase_is_refused():
    with pytest.raises(ValueError, match="unknown authentication phase"):
        listener_env("both", NAMES)
    assert phase_of({}) == OPEN and phase_of(listener_env(SCRAM_ONLY, NAMES)) == SCRAM_ONLY
