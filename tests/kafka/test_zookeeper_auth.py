"""ZooKeeper's super user and the brokers' SASL login (msa/kafka/zookeeper_auth.py) as the stack renders them."""

from pathlib import Path

import pytest

import render
from conftest import ROOT, TEST_AUTH_SECRET, by_name, env_of, objects, run_stack
from msa.kafka import zookeeper_auth
from msa.kafka.broker_auth import phase_env
from msa.kafka.credentials import derived_password


def test_super_digest_is_zookeepers_generate_digest():
    # ZooKeeper's documentation: DigestAuthenticationProvider.generateDigest("super:admin").
    assert zookeeper_auth.super_digest("admin") == "super:xQJmxLMiHGwaqBvst5y6rkB6HQs="


def test_no_acl_bypass_anywhere_in_the_program():
    sources = [*Path(ROOT, "msa").rglob("*.py"), *Path(ROOT, "msa").rglob("*.sh"), Path(ROOT, "__main__.py")]
    assert not [str(p) for p in sources if "skipacl" in p.read_text().lower()]


def test_no_acl_bypass_in_what_the_stack_renders(prod):
    text = "\n".join(content for content, _ in render.output_files(prod, ROOT).values())
    assert "skipacl" not in text.lower() and "ZOOKEEPER_SKIP_ACL" not in text


def _zookeeper_secret(result):
    (secret,) = [r for r in result.of_type("kubernetes:core/v1:Secret") if r.name == "zookeeper-auth"]
    return secret


def test_the_zookeeper_secret_holds_the_derived_users_and_is_secret_as_a_whole(prod):
    secret = _zookeeper_secret(prod)
    data = secret.inputs["stringData"]
    assert data.get(render.SECRET_SIG) is not None
    assert data["value"] == zookeeper_auth.server_secret_data(TEST_AUTH_SECRET)
    assert secret.inputs["immutable"] is True
    (rendered,) = [o for o in objects(prod, "Secret") if o["metadata"]["labels"]["app.kubernetes.io/name"] == "zookeeper-auth"]
    assert set(rendered["stringData"].values()) == {render.SECRET_PLACEHOLDER}


def test_no_password_or_digest_in_rendered_files(prod):
    text = "\n".join(content for content, _ in render.output_files(prod, ROOT).values())
    super_pw, kafka_pw = derived_password(TEST_AUTH_SECRET, "super"), derived_password(TEST_AUTH_SECRET, "kafka")
    digest = zookeeper_auth.super_digest(super_pw).split(":", 1)[1]
    for canary in (TEST_AUTH_SECRET, super_pw, kafka_pw, digest):
        assert canary not in text
    assert TEST_AUTH_SECRET not in str(prod.exports)


def test_members_mount_the_secret_and_get_no_secret_in_their_env(prod):
    zookeeper = by_name(prod, "StatefulSet", "zookeeper")
    pod = zookeeper["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"].startswith("zookeeper-auth-") and volume["secret"]["defaultMode"] == 0o440
    (container,) = pod["containers"]
    assert {"name": volume["name"], "mountPath": zookeeper_auth.SERVER_AUTH_DIR, "readOnly": True} in container["volumeMounts"]
    env = env_of(zookeeper)
    assert env["ZK_AUTH_DIR"] == zookeeper_auth.SERVER_AUTH_DIR
    assert env["ZOOKEEPER_AUTH_PROVIDER_SASL"] == zookeeper_auth.SASL_PROVIDER
    script = container["command"][2]
    assert "DigestAuthenticationProvider.superDigest=$super_digest" in script and "zk_super" in script


def test_the_shrink_job_gets_the_super_password_only(prod):
    job = by_name(prod, "Job", "zookeeper-shrink")
    pod = job["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if "secret" in v]
    assert volume["secret"]["items"] == [{"key": "super-password", "path": "super-password"}]
    assert env_of(job)["ZK_AUTH_DIR"] == zookeeper_auth.SERVER_AUTH_DIR
    assert "reconfig -remove" in pod["containers"][0]["command"][2]


@pytest.mark.parametrize("phase, expected", [
    ("open", {}),
    ("login", {"KAFKA_OPTS": "-Djava.security.auth.login.config=/etc/msa/zookeeper-login/client-jaas.conf", "KAFKA_ZOOKEEPER_SET_ACL": "false"}),
    ("secure", {"KAFKA_OPTS": "-Djava.security.auth.login.config=/etc/msa/zookeeper-login/client-jaas.conf", "KAFKA_ZOOKEEPER_SET_ACL": "true"}),
])
def test_broker_zookeeper_login_by_phase(phase, expected):
    assert zookeeper_auth.zookeeper_client_env(phase) == expected


def test_unknown_phase_is_refused():
    with pytest.raises(ValueError, match="open, login, secure"):
        zookeeper_auth.zookeeper_client_env("half")


def test_jaas_files_name_the_kafka_user_on_both_sides():
    server, client = zookeeper_auth.server_jaas("pw"), zookeeper_auth.client_jaas("pw")
    assert server.startswith("Server {") and 'user_kafka="pw";' in server
    assert client.startswith("Client {") and 'username="kafka"' in client and 'password="pw";' in client


def _sasl(values):
    values["msa:kafka"]["authentication"] = "sasl"


def test_an_open_cluster_has_no_broker_login_and_no_migration(prod_open):
    assert "KAFKA_OPTS" not in env_of(by_name(prod_open, "StatefulSet", "kafka"))
    assert not [o for o in objects(prod_open, "Job") if o["metadata"]["name"] == "zookeeper-acl-migration"]
    assert not [r for r in prod_open.of_type("kubernetes:core/v1:Secret") if r.name == "kafka-zookeeper-login"]


def test_authenticated_brokers_log_in_to_zookeeper_from_their_secret_and_set_acls():
    result = run_stack("prod", _sasl)
    kafka = by_name(result, "StatefulSet", "kafka")
    env = env_of(kafka)
    # The login in every phase; zookeeper.set.acl a phase variable (broker_auth.phase_vars), true once settled.
    settled = phase_env(env, None)
    assert {"KAFKA_OPTS": env["KAFKA_OPTS"], "KAFKA_ZOOKEEPER_SET_ACL": settled["KAFKA_ZOOKEEPER_SET_ACL"]} == zookeeper_auth.zookeeper_client_env("secure")
    assert "KAFKA_ZOOKEEPER_SET_ACL" not in env
    pod = kafka["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v.get("secret", {}).get("secretName", "").startswith("kafka-zookeeper-login-")]
    assert {"name": volume["name"], "mountPath": zookeeper_auth.CLIENT_AUTH_DIR, "readOnly": True} in pod["containers"][0]["volumeMounts"]
    (secret,) = [r for r in result.of_type("kubernetes:core/v1:Secret") if r.name == "kafka-zookeeper-login"]
    assert secret.inputs["stringData"]["value"] == zookeeper_auth.client_secret_data(TEST_AUTH_SECRET)
    # The migration runs after the brokers' second roll (kafka-auth-roll), logged in as they are.
    job = by_name(result, "Job", "zookeeper-acl-migration")
    assert env_of(job) == zookeeper_auth.acl_migration_env("zookeeper.msa.svc.cluster.local:2181")
    assert "zookeeper-security-migration --zookeeper.acl=secure" in job["spec"]["template"]["spec"]["containers"][0]["command"][2]
    migration = [r for r in result.resources if r.type == "kubernetes:batch/v1:Job" and r.name == "zookeeper-acl-migration"][0]
    assert any(d.endswith("$kubernetes:batch/v1:Job::kafka-auth-roll") for d in migration.dependencies)
    text = "\n".join(content for content, _ in render.output_files(result, ROOT).values())
    assert derived_password(TEST_AUTH_SECRET, "kafka") not in text


def test_the_zookeeper_login_follows_the_listener_transition_in_kafkas_order():
    steps = ["open", "scram-added", "inter-broker-scram", "scram-only"]
    phases = [zookeeper_auth.zookeeper_phase_of(step) for step in steps]
    assert phases == ["open", "login", "secure", "secure"]
    # Each roll moves at most one ZooKeeper phase: login before ACLs, never both in one roll.
    order = list(zookeeper_auth.PHASES)
    assert all(order.index(b) - order.index(a) <= 1 for a, b in zip(phases, phases[1:]))
    with pytest.raises(ValueError):
        zookeeper_auth.zookeeper_phase_of("half-open")
