"""KRaft with msa:kafka.authentication: sasl as rendered: the SCRAM listener alone on the brokers, the
controller listener on SASL/PLAIN, every password from a Secret, the format-time users on the nodes that
may form the quorum, the users Job after the brokers; and the one-line refusals of what a running KRaft
cluster cannot follow (an open one moving to sasl in place, a new seed)."""

import pytest

from conftest import TEST_AUTH_SECRET, by_name, config_error, env_of, objects, run_stack
from msa.kafka.broker_auth import BROKER_JAAS_ENV
from msa.kafka.cluster_id import FINGERPRINT_KEY, quorum_change_problems
from msa.kafka.credentials import derived_password
from msa.kafka.kraft import kraft_broker_start
from msa.kafka.kraft_auth import CONTROLLER_JAAS_ENV, controller_jaas_config

FORMAT_ENV = ("MSA_FORMAT_BROKER_PASSWORD", "MSA_FORMAT_ADMIN_PASSWORD")


def _kraft(authentication="sasl", **values):
    def edit(v):
        v["msa:kafka"].update(mode="kraft", authentication=authentication, **values)
    return edit


@pytest.fixture(scope="module")
def dev_sasl():
    return run_stack("dev", _kraft())


@pytest.fixture(scope="module")
def prod_sasl():
    return run_stack("prod", _kraft())


def resource(result, kind, name):
    return next(r for r in result.resources if r.type.endswith(f":{kind}") and r.name == name)


def secret_ref(env, name):
    return env[name]["secretKeyRef"]


def test_combined_pod_listens_on_scram_and_a_plain_controller_listener_with_secrets_only(dev_sasl):
    sts = by_name(dev_sasl, "StatefulSet", "kafka")
    env = env_of(sts)
    assert env["KAFKA_LISTENERS"] == "SCRAM://0.0.0.0:9094" and env["KAFKA_INTER_BROKER_LISTENER_NAME"] == "SCRAM"
    assert env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] == "PLAINTEXT:PLAINTEXT,SCRAM:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
    assert env["KAFKA_SASL_MECHANISM_CONTROLLER_PROTOCOL"] == env["KAFKA_LISTENER_NAME_CONTROLLER_SASL_ENABLED_MECHANISMS"] == "PLAIN"
    controller = by_name(dev_sasl, "Secret", "kafka-controller-login")
    assert secret_ref(env, CONTROLLER_JAAS_ENV) == {"name": controller["metadata"]["name"], "key": "sasl.jaas.config"}
    assert secret_ref(env, BROKER_JAAS_ENV)["name"] == by_name(dev_sasl, "Secret", "kafka-user-broker")["metadata"]["name"]
    # Combined: the broker pods may form the quorum, so they format with the broker and admin users.
    assert [secret_ref(env, name)["key"] for name in FORMAT_ENV] == ["password", "password"]
    assert secret_ref(env, "MSA_FORMAT_ADMIN_PASSWORD")["name"] == by_name(dev_sasl, "Secret", "kafka-user-admin")["metadata"]["name"]
    command = sts["spec"]["template"]["spec"]["containers"][0]["command"][2]
    assert "--add-scram \"SCRAM-SHA-512=[name=broker,password=$MSA_FORMAT_BROKER_PASSWORD]\"" in command
    assert "kafka-storage format --ignore-formatted" in command
    # Nothing of ZooKeeper: no login Secret, no ACL migration.
    assert [o["metadata"]["name"] for o in objects(dev_sasl) if "zookeeper" in o["metadata"]["name"]] == []


def test_no_password_is_a_value_in_any_rendered_object(dev_sasl, prod_sasl):
    passwords = [derived_password(TEST_AUTH_SECRET, user) for user in ("broker", "admin", "controller", "store-service")]
    for result in (dev_sasl, prod_sasl):
        for kind in ("StatefulSet", "Job", "ConfigMap", "Service", "Deployment"):
            text = str(objects(result, kind))
            assert not [p for p in [TEST_AUTH_SECRET, *passwords] if p in text], kind


def test_dedicated_controllers_format_the_users_and_the_brokers_do_not(prod_sasl):
    controllers = env_of(by_name(prod_sasl, "StatefulSet", "kafka-controller"))
    brokers = env_of(by_name(prod_sasl, "StatefulSet", "kafka"))
    assert all(name in controllers for name in FORMAT_ENV) and not any(name in brokers for name in FORMAT_ENV)
    assert CONTROLLER_JAAS_ENV in controllers and CONTROLLER_JAAS_ENV in brokers
    assert controllers["KAFKA_LISTENERS"] == "CONTROLLER://0.0.0.0:9093"
    assert "KAFKA_ADVERTISED_LISTENERS" not in controllers


def test_the_users_job_writes_the_others_through_the_brokers_after_they_are_ready(prod_sasl):
    job = by_name(prod_sasl, "Job", "kafka-scram-users")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert "kafka-configs --bootstrap-server" in container["command"][2] and "--zookeeper" not in container["command"][2]
    assert env_of(job)["KAFKA_CLIENT_CONFIG"] == "/etc/kafka-client/client.properties"
    users = resource(prod_sasl, "Job", "kafka-scram-users")
    assert resource(prod_sasl, "StatefulSet", "kafka").urn in users.dependencies
    assert users.urn not in resource(prod_sasl, "StatefulSet", "kafka").dependencies
    assert users.urn not in resource(prod_sasl, "Job", "kafka-drain").dependencies     # the drain runs before the brokers change
    assert users.urn in resource(prod_sasl, "Deployment", "store-service").dependencies


def test_an_open_kraft_cluster_keeps_its_start_command():
    # Open pods do not roll for this feature: the format step exists only with authentication.
    assert "kafka-storage" not in kraft_broker_start(False) and "kafka-storage" in kraft_broker_start(True)
    env = env_of(by_name(run_stack("dev", _kraft("none")), "StatefulSet", "kafka"))
    assert env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] == "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    assert CONTROLLER_JAAS_ENV not in env and "MSA_FORMAT_BROKER_PASSWORD" not in env


def test_the_controller_jaas_line_is_client_and_server_side_at_once():
    line = controller_jaas_config("pw")
    assert line == ('org.apache.kafka.common.security.plain.PlainLoginModule required username="controller" password="pw" '
                    'user_controller="pw";')


KRAFT = {"kafka.mode": "kraft", "kafka.combined": "true", "kafka.controllers": "1"}


@pytest.mark.parametrize("old, new, expected", [
    ({**KRAFT, "kafka.authentication": "none"}, {**KRAFT, "kafka.authentication": "sasl"},
     "msa:kafka.authentication: this KRaft cluster runs open, and a running KRaft cluster cannot move to sasl in place"),
    (KRAFT, {**KRAFT, "kafka.authentication": "sasl"},        # recorded before the key existed: open
     "msa:kafka.authentication: this KRaft cluster runs open"),
    ({**KRAFT, "kafka.authentication": "sasl", FINGERPRINT_KEY: "a"}, {**KRAFT, "kafka.authentication": "sasl", FINGERPRINT_KEY: "b"},
     "msa:kafkaAuthSecret: a new seed on a running KRaft cluster is refused"),
])
def test_what_a_running_kraft_cluster_cannot_follow_is_one_line(old, new, expected):
    ((key, message),) = quorum_change_problems(old, new)
    assert message.startswith(expected) and "\n" not in message and message.startswith(f"msa:{key}:")


def test_a_first_deploy_and_an_unchanged_seed_are_allowed():
    new = {**KRAFT, "kafka.authentication": "sasl", FINGERPRINT_KEY: "a"}
    assert quorum_change_problems({}, new) == []
    assert quorum_change_problems(new, dict(new)) == []


def test_a_transition_step_with_kraft_is_one_line():
    message = config_error(_kraft(transition="scram-added"))
    assert message.startswith("msa:kafka.transition: is no longer needed") and "\n" not in message
