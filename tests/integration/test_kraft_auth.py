"""KRaft with msa:kafka.authentication: sasl against real Kafka 3.9.1, configured from what the stack
renders (kraft_auth.py): the combined (dev) and the split shape (dedicated kafka-controller pods).

Each test, on one cluster: the pods start and turn ready by their rendered probe (the `broker` and
`admin` users written at format time from the Secrets, the controller listener's PLAIN login); the
rendered kafka-scram-users Job writes the other users through the brokers as admin; nobody gets in
without credentials or with a wrong password, on the broker listener nor on the controller listener;
a Spring service's user runs transactions and its group commits offsets; the rendered Jobs and the
checker work with the admin login; a restarted broker rejoins with its SCRAM login and the data and
offsets are there.
"""

from __future__ import annotations

import re
import uuid

import pytest

from integration.kafka_auth import client_config, metadata_error
from integration.kraft_auth import (
    admin_config, checker_spec, controller_answer, rendered_kraft, run_admin_job, run_kraft_users_job, start_kraft,
)
from integration.kraft_cluster import KraftCluster
from integration.test_kafka_auth import consume, create_topic, produce_transactionally, refused_login
from integration.kafka_clients_auth import wrong_password_config
from integration.verify_run import run_checker
from msa.kafka.kraft_auth import CONTROLLER_JAAS_ENV

pytestmark = pytest.mark.integration

CLIENT = "store-service"          # kafka: true (transactional) in the dev and prod stacks


def controller_login(cluster: KraftCluster, node: str) -> tuple[str, str]:
    jaas = cluster.nodes[node].env[CONTROLLER_JAAS_ENV]
    return re.search(r'username="([^"]*)"', jaas)[1], re.search(r'\spassword="([^"]*)"', jaas)[1]


def assert_only_credentials_get_in(cluster: KraftCluster, kafka_tools, tmp_path, controller: str) -> None:
    bootstrap = cluster.bootstrap_servers
    assert metadata_error({"bootstrap.servers": bootstrap}) is not None                     # no credentials
    assert refused_login(kafka_tools, bootstrap, wrong_password_config(tmp_path, CLIENT))  # a wrong password
    port = cluster.nodes[controller].controller_port
    user, password = controller_login(cluster, controller)
    assert controller_answer(port, None).startswith("no answer")                           # no SASL: the connection is closed
    assert controller_answer(port, (user, "wrong-" + password)).startswith("refused")
    assert controller_answer(port, ("admin", password)).startswith("refused")
    assert controller_answer(port, (user, password)).startswith("leader ")


def assert_clients_work(rendered, cluster: KraftCluster, kafka_tools, tmp_path, replicas: int) -> dict:
    """The users Job, a transactional producer and a committing consumer as CLIENT; its config."""
    admin = admin_config(rendered, tmp_path / "admin")
    stored = run_kraft_users_job(rendered, kafka_tools, cluster.bootstrap_servers, admin, tmp_path / "users")
    assert stored.returncode == 0, stored.stdout + stored.stderr
    assert "SCRAM-SHA-512 user(s) stored in the KRaft metadata" in stored.stdout
    config = client_config(rendered, CLIENT, cluster.bootstrap_servers)
    create_topic(config, replicas)
    produce_transactionally(config, ["a", "b", "c"], abort=["never"])
    assert consume(config, "readers", 2) == ["a", "b"]
    run = run_checker(checker_spec(rendered, cluster.bootstrap_servers, admin), tmp_path, "kafka", env=kafka_tools.env())
    assert run.code == 0, run.out + run.err
    assert run.status("kafka", "quorum") == "PASS" and run.status("kafka", "transaction") == "PASS"
    done = run_admin_job(rendered, "kafka-rebalance", kafka_tools, cluster.bootstrap_servers, admin)
    assert done.returncode == 0, done.stdout + done.stderr
    return config


def restart_and_read_back(cluster: KraftCluster, name: str, config: dict) -> None:
    """A broker pod restarts (same volume): it logs in again, rejoins, and the group resumes where it committed."""
    cluster.nodes[name].server.stop()
    cluster.start_node(name)
    cluster.wait_ready(name)
    assert consume(config, "readers", 1) == ["c"]
    assert consume(config, f"fresh-{uuid.uuid4()}", 3) == ["a", "b", "c"]


def test_combined_pod_lets_in_only_credentials_and_its_clients_work(kafka_tools, tmp_path):
    rendered = rendered_kraft("dev")
    cluster = start_kraft(rendered, tmp_path / "kraft", kafka_tools, brokers=1)
    try:
        assert cluster.nodes["kafka-0"].env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert_only_credentials_get_in(cluster, kafka_tools, tmp_path, "kafka-0")
        config = assert_clients_work(rendered, cluster, kafka_tools, tmp_path, replicas=1)
        restart_and_read_back(cluster, "kafka-0", config)
    finally:
        cluster.stop(kill=True)


def test_dedicated_controllers_let_in_only_credentials_and_the_brokers_rejoin(kafka_tools, tmp_path):
    # prod's shape (brokers and a kafka-controller StatefulSet), two brokers and one controller to keep it small.
    rendered = rendered_kraft("prod", brokers=2, combined=False, controllers=1)
    cluster = start_kraft(rendered, tmp_path / "kraft", kafka_tools, brokers=2, controllers=1)
    try:
        assert cluster.nodes["kafka-1"].env["KAFKA_PROCESS_ROLES"] == "broker"
        assert "MSA_FORMAT_ADMIN_PASSWORD" not in cluster.nodes["kafka-1"].env          # the brokers format no users
        assert_only_credentials_get_in(cluster, kafka_tools, tmp_path, "kafka-controller-0")
        config = assert_clients_work(rendered, cluster, kafka_tools, tmp_path, replicas=2)
        restart_and_read_back(cluster, "kafka-1", config)
    finally:
        cluster.stop(kill=True)
