"""msa:kafka.authentication: sasl on the client side: every client of Kafka gets its own user's Secret,
the password only ever as a reference (secretKeyRef, a Secret volume), never in a rendered value.
Real logins: tests/integration/test_kafka_clients_auth.py."""

from __future__ import annotations

import json

import pytest

from conftest import TEST_AUTH_SECRET, by_name, env_of, objects, run_stack
from msa.kafka.client_auth import CLIENT_CONFIG, CLIENT_CONFIG_DIR
from msa.kafka.credentials import derived_password

SASL_USERS = ("admin", "kafka-ui", "store-service")


def sasl(values):
    values["msa:kafka"]["authentication"] = "sasl"


@pytest.fixture(scope="module")
def sasl_dev():
    return run_stack("dev", sasl)


def user_secret_name(rendered, user: str) -> str:
    return by_name(rendered, "Secret", f"kafka-user-{user}")["metadata"]["name"]


def test_each_client_has_its_own_user_secret(sasl_dev):
    names = sorted(o["metadata"]["labels"]["app.kubernetes.io/name"] for o in objects(sasl_dev, "Secret")
                   if o["metadata"]["labels"]["app.kubernetes.io/name"].startswith("kafka-user-"))
    # ... and the brokers their own (their inter-broker login and readiness probe: msa/kafka/scram.py).
    assert names == sorted(f"kafka-user-{u}" for u in (*SASL_USERS, "broker"))
    for user in SASL_USERS:
        secret = by_name(sasl_dev, "Secret", f"kafka-user-{user}")
        assert secret["immutable"] is True
        assert set(secret["stringData"]) == {"username", "password", "sasl.jaas.config", "client.properties"}


def test_an_open_cluster_renders_no_kafka_login(dev_open):
    assert not [o for o in objects(dev_open, "Secret") if o["metadata"]["name"].startswith("kafka-user-")]
    settings = json.loads(env_of(by_name(dev_open, "Deployment", "store-service"))["SPRING_APPLICATION_JSON"])
    assert set(settings["spring"]["kafka"]) == {"bootstrap-servers", "producer"}
    assert "SPRING_KAFKA_PROPERTIES_SASL_JAAS_CONFIG" not in env_of(by_name(dev_open, "Deployment", "store-service"))
    assert not [k for k in env_of(by_name(dev_open, "Deployment", "kafka-ui")) if "SASL" in k or "SECURITY" in k]
    assert "KAFKA_CLIENT_CONFIG" not in env_of(by_name(dev_open, "Job", "kafka-drain"))
    assert json.loads(by_name(dev_open, "ConfigMap", "verify")["data"]["spec.json"])["kafka"]["clientConfig"] is None
    # The brokers' readiness probe is the command of old: an open cluster does not roll for this change.
    (container,) = by_name(dev_open, "StatefulSet", "kafka")["spec"]["template"]["spec"]["containers"]
    assert len(container["readinessProbe"]["exec"]["command"]) == 4


def test_spring_service_gets_protocol_in_its_settings_and_its_jaas_line_from_its_own_secret(sasl_dev):
    env = env_of(by_name(sasl_dev, "Deployment", "store-service"))
    settings = json.loads(env["SPRING_APPLICATION_JSON"])
    assert settings["spring"]["kafka"]["security"] == {"protocol": "SASL_PLAINTEXT"}
    assert settings["spring"]["kafka"]["properties"] == {"sasl.mechanism": "SCRAM-SHA-512"}
    assert "jaas" not in env["SPRING_APPLICATION_JSON"]
    assert env["SPRING_KAFKA_PROPERTIES_SASL_JAAS_CONFIG"] == {
        "secretKeyRef": {"name": user_secret_name(sasl_dev, "store-service"), "key": "sasl.jaas.config"}}
    # A service without `kafka` gets no Kafka user at all.
    user_env = env_of(by_name(sasl_dev, "Deployment", "user-service"))
    assert "SPRING_KAFKA_PROPERTIES_SASL_JAAS_CONFIG" not in user_env
    assert "kafka" not in json.loads(user_env["SPRING_APPLICATION_JSON"])["spring"]


def test_kafka_ui_logs_in_as_its_own_user(sasl_dev):
    env = env_of(by_name(sasl_dev, "Deployment", "kafka-ui"))
    assert env["KAFKA_CLUSTERS_0_PROPERTIES_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    assert env["KAFKA_CLUSTERS_0_PROPERTIES_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert env["KAFKA_CLUSTERS_0_PROPERTIES_SASL_JAAS_CONFIG"] == {
        "secretKeyRef": {"name": user_secret_name(sasl_dev, "kafka-ui"), "key": "sasl.jaas.config"}}


@pytest.mark.parametrize("job", ["kafka-drain", "kafka-rebalance", "verify"])
def test_admin_jobs_mount_only_the_admin_client_properties(sasl_dev, job):
    pod = by_name(sasl_dev, "Job", job)["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if "secret" in v]
    assert volume["secret"] == {"secretName": user_secret_name(sasl_dev, "admin"), "defaultMode": 0o440,
                                "items": [{"key": "client.properties", "path": "client.properties"}]}
    (container,) = pod["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    assert mount == {"name": volume["name"], "mountPath": CLIENT_CONFIG_DIR, "readOnly": True}
    assert pod["securityContext"]["fsGroup"] == 1000       # mode 0440: readable by the pod's group
    if job != "verify":
        assert env_of(by_name(sasl_dev, "Job", job))["KAFKA_CLIENT_CONFIG"] == CLIENT_CONFIG
    else:
        assert json.loads(by_name(sasl_dev, "ConfigMap", "verify")["data"]["spec.json"])["kafka"]["clientConfig"] == CLIENT_CONFIG


def test_no_password_jaas_line_or_seed_in_any_rendered_value(sasl_dev):
    """Canary: the seed and every derived password appear nowhere in the rendered objects, exports or
    warnings (the Secrets' values render as [secret])."""
    text = json.dumps([sasl_dev.kubernetes_objects(), sasl_dev.exports, sasl_dev.warnings], default=str)
    for user in (*SASL_USERS, "broker"):
        assert derived_password(TEST_AUTH_SECRET, user) not in text, user
    assert TEST_AUTH_SECRET not in text
    assert "ScramLoginModule" not in text


@pytest.mark.parametrize("tool, option", [
    ("kafka-topics", "--command-config"), ("kafka-configs", "--command-config"),
    ("kafka-producer-perf-test", "--producer.config"), ("kafka-console-consumer", "--consumer.config"),
])
def test_checker_passes_the_client_config_as_each_tool_spells_it(tool, option):
    from msa.verify.checker.kafka import login

    assert login({"clientConfig": "/etc/kafka-client/client.properties"}, tool) == [option, "/etc/kafka-client/client.properties"]
    assert login({"clientConfig": None}, tool) == []


def test_checker_names_a_refused_login_before_the_stack_trace():
    from msa.verify.checker.kafka import Ran

    ran = Ran(1, "", "Error while executing topic command : Timed out\n[2026] ERROR org.apache.kafka.common.errors."
                     "SaslAuthenticationException: Authentication failed during authentication due to invalid credentials\n\tat x")
    line = ran.error_line()
    assert line.startswith("[2026] ERROR org.apache.kafka.common.errors.SaslAuthenticationException: Authentication failed")
    assert "kafka-user-admin" in line and "troubleshooting" in line


@pytest.mark.parametrize("user", ["admin", "broker"])
def test_a_kafka_service_named_like_the_stacks_own_kafka_user_is_refused(user):
    from conftest import config_error

    def edit(values):
        values["msa:services"][user] = values["msa:services"].pop("store-service")
    message = config_error(edit)
    assert f"msa:services.{user}.kafka: a service with kafka logs in to Kafka as its own name" in message, message
