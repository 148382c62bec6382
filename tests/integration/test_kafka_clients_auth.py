"""The stack's Kafka clients against a real Kafka 3.9 that authenticates every client (SCRAM-SHA-512),
each with exactly what the stack renders for msa:kafka.authentication: sasl: its Secret's credentials,
its settings, its scripts. They work; with a password the broker does not know they fail, in one line.

- the brokers' readiness probe logs in (the cluster is only "ready" through it);
- the day-2 Jobs' scripts (drain, rebalance) and the verification checker, as the admin user;
- a real Spring Boot app (tests/jvm/spring-client) with store-service's rendered SPRING_APPLICATION_JSON
  and its JAAS env from its own Secret: an admin client, a (transactional) producer and a consumer.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import TEST_AUTH_SECRET, by_name
from integration.kafka_world import KafkaWorld
from integration.rendered import run_job_script
from integration.kafka_clients_auth import (
    BROKER_USER, add_scram_user, job_substitutions, start_scram_cluster, user_secret, write_client_config, wrong_password_config,
)
from integration.spring_apps import render_loopback_stack, require_spring_apps, wait_until
from integration.verify_run import run_checker
from msa.kafka.jobs import kafka_ready_command

pytestmark = pytest.mark.integration

KAFKA_SERVICE = "store-service"       # kafka: true (and transactional) in the dev stack
USERS = ("admin", "kafka-ui", KAFKA_SERVICE)


def sasl(values):
    values["msa:kafka"]["authentication"] = "sasl"


@pytest.fixture(scope="module")
def stack():
    """The dev stack with authentication, rendered for loopback (Spring ports and ClusterIPs)."""
    return render_loopback_stack("dev", sasl)


@pytest.fixture(scope="module")
def cluster(stack, kafka_tools, tmp_path_factory):
    """One broker as the dev stack renders it, SCRAM on its only listener, every client user created
    with the password its rendered Secret carries."""
    world = KafkaWorld(tmp_path_factory.mktemp("kafka-auth"), kafka_tools)
    try:
        users = {user: user_secret(stack.rendered, user)["password"] for user in USERS}
        yield start_scram_cluster(world, stack.rendered, TEST_AUTH_SECRET, users, edit=sasl)
    finally:
        world.stop(kill=True)


@pytest.fixture(scope="module")
def admin_config(stack, tmp_path_factory):
    return write_client_config(tmp_path_factory.mktemp("admin-secret"), user_secret(stack.rendered, "admin"))


# --- the brokers' readiness probe ---------------------------------------------------------------------

def test_readiness_probe_logs_in_and_a_wrong_password_is_refused(cluster, tmp_path):
    port = cluster.brokers[0].port
    ok = subprocess.run(kafka_ready_command(port, str(cluster.probe_config)), env={"HOSTNAME": "kafka-0"}, capture_output=True, text=True, timeout=15)
    assert ok.returncode == 0, ok.stdout
    wrong = wrong_password_config(tmp_path, BROKER_USER)
    refused = subprocess.run(kafka_ready_command(port, str(wrong)), env={"HOSTNAME": "kafka-0"}, capture_output=True, text=True, timeout=15)
    assert refused.returncode == 1
    assert refused.stdout.startswith("Kafka refused the probe's login as broker: Authentication failed"), refused.stdout
    # Without credentials the authenticating listener gives no metadata at all.
    anonymous = subprocess.run(kafka_ready_command(port), env={"HOSTNAME": "kafka-0"}, capture_output=True, text=True, timeout=15)
    assert anonymous.returncode == 1 and anonymous.stdout.startswith("no metadata answer"), anonymous.stdout


# --- the day-2 Jobs ------------------------------------------------------------------------------------

@pytest.mark.parametrize("job", ["kafka-drain", "kafka-rebalance"])
def test_job_scripts_work_as_the_admin_user(stack, cluster, kafka_tools, admin_config, job):
    rendered_job = by_name(stack.rendered, "Job", job)
    done = run_job_script(rendered_job, kafka_tools, job_substitutions(cluster, admin_config))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{job}: done" in done.stdout


def test_job_script_with_a_wrong_password_fails_in_one_line(stack, cluster, kafka_tools, tmp_path):
    rendered_job = by_name(stack.rendered, "Job", "kafka-rebalance")
    done = run_job_script(rendered_job, kafka_tools, job_substitutions(cluster, wrong_password_config(tmp_path, "admin")), timeout=300)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("kafka-rebalance: kafka-reassign-partitions --list failed:") and "Authentication failed" in line, line


def test_job_script_without_its_secret_mounted_fails_in_one_line(stack, cluster, kafka_tools, tmp_path):
    rendered_job = by_name(stack.rendered, "Job", "kafka-drain")
    done = run_job_script(rendered_job, kafka_tools, job_substitutions(cluster, tmp_path / "absent" / "client.properties"))
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert "cannot read the Kafka admin user's credentials" in line, line


# --- the verification checker --------------------------------------------------------------------------

def checker_spec(stack, cluster, client_config, settle: int) -> dict:
    spec = json.loads(by_name(stack.rendered, "ConfigMap", "verify")["data"]["spec.json"])
    spec["kafka"].update(bootstrap=cluster.bootstrap_servers, clientConfig=str(client_config), timeoutMs=20000)
    spec["settleSeconds"] = settle
    return spec


def test_checker_passes_as_the_admin_user(stack, cluster, kafka_tools, admin_config, tmp_path):
    run = run_checker(checker_spec(stack, cluster, admin_config, 120), tmp_path, "kafka", env=kafka_tools.env())
    assert run.code == 0, run.out + run.err
    assert run.status("kafka", "transaction") == "PASS"


def test_checker_with_a_wrong_password_names_the_refused_login(stack, cluster, kafka_tools, tmp_path):
    spec = checker_spec(stack, cluster, wrong_password_config(tmp_path, "admin"), 5)
    run = run_checker(spec, tmp_path, "kafka", env=kafka_tools.env())
    assert run.code == 1
    brokers = run.line("kafka", "brokers")
    assert brokers.startswith("FAIL") and "Authentication failed" in brokers and "kafka-user-admin" in brokers, brokers


# --- a Spring service -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def spring(stack, tmp_path_factory):
    from integration.spring_apps import SpringSystem

    require_spring_apps("config-server", "client")
    system = SpringSystem(stack, tmp_path_factory.mktemp("spring-auth"))
    try:
        yield system
    finally:
        system.stop_all()


def test_spring_service_round_trips_with_its_rendered_settings_and_a_changed_password_fails(stack, cluster, spring, kafka_tools):
    settings = stack.settings(KAFKA_SERVICE)
    assert settings["spring"]["kafka"]["security"] == {"protocol": "SASL_PLAINTEXT"}
    assert settings["spring"]["kafka"]["properties"] == {"sasl.mechanism": "SCRAM-SHA-512"}
    assert "ScramLoginModule" not in json.dumps(settings)      # the JAAS line only comes from the Secret
    spring.app("config-service")
    # The one substitution: the cluster's loopback address for the bootstrap Service's.
    app = spring.app(KAFKA_SERVICE, args=(f"--spring.kafka.bootstrap-servers={cluster.bootstrap_servers}",))
    assert "ScramLoginModule" in app.env["SPRING_KAFKA_PROPERTIES_SASL_JAAS_CONFIG"]
    status, body = app.get("/kafka/roundtrip?topic=store-auth", timeout=120)
    assert status == 200, body
    assert json.loads(body)["transactional"] is True            # store-service's transaction-id-prefix, per pod
    # The broker's credential changes (a Secret out of date): the app's next logins are refused.
    password = user_secret(stack.rendered, KAFKA_SERVICE)["password"]
    add_scram_user(kafka_tools, cluster.zookeeper.connect, KAFKA_SERVICE, "Changed-Canary-7c1d")
    try:
        def refused():
            status, body = app.get("/kafka/roundtrip?topic=store-auth-2", timeout=120)
            return status == 500 and "SaslAuthenticationException" in body and body
        body = wait_until(refused, 90, "store-service's login to be refused")
        assert "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512" in body, body
    finally:
        add_scram_user(kafka_tools, cluster.zookeeper.connect, KAFKA_SERVICE, password)
