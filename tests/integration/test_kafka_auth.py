"""The brokers with msa:kafka.authentication: sasl against real Kafka 3.9.1 / ZooKeeper 3.8.4, configured
from the rendered StatefulSet, their users stored by the rendered kafka-scram-users Job's script:

- nobody gets in without credentials or with a wrong password; PLAINTEXT is closed; a client with its
  rendered client.properties produces and consumes transactionally; a new seed re-stored by the Job
  replaces every password;
- a running open cluster (1 broker and 3) with transactional data and committed offsets moves to SCRAM
  through the documented steps, one rendered spec per `pulumi up`, each a roll; the data and the
  group's offsets are there after; the Job refuses to take an open cluster straight to SCRAM.
"""

from __future__ import annotations

import socket
import uuid

import pytest

from integration.kafka_auth import (
    client_config, metadata_error, rendered_kafka, run_scram_users_job, start_auth_cluster, start_brokers,
)
from integration.kafka_cluster import KafkaWorld
from integration.kafka_clients_auth import user_secret, write_client_config, wrong_password_config

pytestmark = pytest.mark.integration

CLIENT = "store-service"          # kafka: true (transactional) in the dev stack
TOPIC = "orders"


def produce_transactionally(config: dict, values: list[str], abort: list[str] = ()) -> None:
    from confluent_kafka import Producer

    producer = Producer({**config, "transactional.id": f"tx-{uuid.uuid4()}"})
    producer.init_transactions(60)
    producer.begin_transaction()
    for value in values:
        producer.produce(TOPIC, value=value.encode())
    producer.commit_transaction(60)
    if abort:
        producer.begin_transaction()
        for value in abort:
            producer.produce(TOPIC, value=value.encode())
        producer.flush(30)
        producer.abort_transaction(60)


def consume(config: dict, group: str, count: int, timeout: float = 90) -> list[str]:
    """Up to `count` committed records of TOPIC for `group` (read_committed), their offsets committed."""
    import time

    from confluent_kafka import Consumer

    consumer = Consumer({**config, "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": "read_committed"})
    consumer.subscribe([TOPIC])
    values, deadline = [], time.monotonic() + timeout
    try:
        while len(values) < count and time.monotonic() < deadline:
            for message in consumer.consume(count - len(values), 1):
                if not message.error():
                    values.append(message.value().decode())
                    consumer.commit(message, asynchronous=False)
    finally:
        consumer.close()
    return values


def create_topic(config: dict, replicas: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(config)         # kept until the futures are done (a collected client cancels them)
    for future in admin.create_topics([NewTopic(TOPIC, 1, replicas)]).values():
        future.result(60)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_only_credentials_get_in_and_clients_work_transactionally(kafka_tools, tmp_path):
    world = KafkaWorld(tmp_path, kafka_tools)
    try:
        rendered = rendered_kafka("dev", 1, "sasl")
        cluster = start_auth_cluster(world, rendered, 1)
        stored = run_scram_users_job(rendered, kafka_tools, cluster.zookeeper.connect, tmp_path / "users")
        assert stored.returncode == 0, stored.stdout + stored.stderr
        start_brokers(cluster, rendered, 1)
        bootstrap = cluster.scram_bootstrap()

        assert metadata_error({"bootstrap.servers": bootstrap}) is not None                       # no credentials
        assert refused_login(kafka_tools, bootstrap, wrong_password_config(tmp_path, CLIENT))
        assert not port_open(cluster.brokers[0].port)                                            # PLAINTEXT is closed

        config = client_config(rendered, CLIENT, bootstrap)
        create_topic(config, 1)
        produce_transactionally(config, ["a", "b"], abort=["never"])
        assert consume(config, "readers", 2) == ["a", "b"]

        # A new seed (msa:kafkaAuthSecret rotated): the Job stores every user's new password over the old.
        rotated = rendered_kafka_with_seed("another-seed-for-the-rotation")
        again = run_scram_users_job(rotated, kafka_tools, cluster.zookeeper.connect, tmp_path / "users-rotated")
        assert again.returncode == 0, again.stdout + again.stderr
        assert refused_login(kafka_tools, bootstrap, write_client_config(tmp_path / "old", user_secret(rendered, CLIENT)))
        assert metadata_error(client_config(rotated, CLIENT, bootstrap)) is None
    finally:
        world.stop()


def refused_login(tools, bootstrap: str, properties) -> bool:
    """Whether the Kafka tools, logging in with `properties` (a client.properties), are refused as a wrong login."""
    result = tools.run("kafka-topics", "--bootstrap-server", bootstrap, "--command-config", str(properties), "--list", check=False)
    return result.returncode != 0 and "Authentication failed during authentication due to invalid credentials" in result.stderr + result.stdout


def rendered_kafka_with_seed(seed: str):
    from conftest import run_stack

    def edit(values):
        values.setdefault("msa:kafka", {}).update(brokers=1, zookeeperReplicas=1, authentication="sasl")
    return run_stack("dev", edit, secrets={"msa:kafkaAuthSecret": seed})


@pytest.mark.parametrize("brokers", [1, 3])
def test_a_running_open_cluster_moves_to_scram_keeping_data_and_offsets(kafka_tools, tmp_path, brokers):
    world = KafkaWorld(tmp_path, kafka_tools)
    try:
        steps = {step: rendered_kafka("dev", brokers, auth, transition)
                 for step, auth, transition in (("open", "none", None), ("scram-added", "sasl", "scram-added"),
                                                ("inter-broker-scram", "sasl", "inter-broker-scram"), ("sasl", "sasl", None))}
        cluster = start_brokers(start_auth_cluster(world, steps["open"], brokers), steps["open"], brokers)
        open_client = {"bootstrap.servers": cluster.bootstrap_servers}
        create_topic(open_client, brokers)
        produce_transactionally(open_client, [f"before-{i}" for i in range(6)], abort=["aborted"])
        assert consume(open_client, "orders-reader", 3) == ["before-0", "before-1", "before-2"]

        # Straight to SCRAM is refused before anything changes: the brokers still run open.
        refused = run_scram_users_job(steps["sasl"], kafka_tools, cluster.zookeeper.connect, tmp_path / "users-early")
        assert refused.returncode != 0 and "msa:kafka.transition: scram-added" in refused.stderr.strip().splitlines()[-1]

        # up 1: users stored, SCRAM next to PLAINTEXT; then the clients switch (both work meanwhile).
        for step in ("scram-added", "inter-broker-scram", "sasl"):
            stored = run_scram_users_job(steps[step], kafka_tools, cluster.zookeeper.connect, tmp_path / f"users-{step}")
            assert stored.returncode == 0, stored.stdout + stored.stderr
            cluster.step(steps[step])
            scram_client = client_config(steps[step], CLIENT, cluster.scram_bootstrap())
            assert metadata_error(scram_client) is None, step
            if step != "sasl":
                assert metadata_error({"bootstrap.servers": cluster.bootstrap_servers}) is None, step

        assert metadata_error({"bootstrap.servers": cluster.scram_bootstrap()}) is not None
        assert not any(port_open(b.port) for b in cluster.brokers.values())
        # The group resumes where it committed before; the transactional records are all there, the aborted one is not.
        assert consume(scram_client, "orders-reader", 3) == ["before-3", "before-4", "before-5"]
        produce_transactionally(scram_client, ["after"])
        assert consume(scram_client, f"fresh-{uuid.uuid4()}", 7) == [f"before-{i}" for i in range(6)] + ["after"]
    finally:
        world.stop()
