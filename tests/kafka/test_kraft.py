"""KRaft's pure parts: the quorum keys and their rules, the pods' env, the cluster id and its guard."""

import re

import pytest

from msa.config import Kafka
from msa.kafka.cluster_id import KafkaClusterIdProvider, new_cluster_id, quorum_change_problems, quorum_settings
from msa.kafka.kraft import controller_env, kraft_broker_env
from msa.names import KafkaNames
from conftest import config_error

NAMES = KafkaNames("msa", "cluster.local")


def _kafka(**values):
    def edit(v):
        v["msa:kafka"].update(values)
    return edit


@pytest.mark.parametrize("values, quorum", [
    ({"brokers": 1}, (True, 1)),
    ({"brokers": 2}, (True, 1)),
    ({"brokers": 3}, (False, 3)),
    ({"brokers": 3, "combined": True}, (True, 3)),
    ({"brokers": 5, "combined": True, "controllers": 5}, (True, 5)),
    ({"brokers": 1, "combined": False}, (False, 3)),
    ({"brokers": 4, "controllers": 5}, (False, 5)),
])
def test_the_quorum_defaults_follow_the_broker_count(values, quorum):
    kafka = Kafka(mode="kraft", **values)
    assert (kafka.is_combined, kafka.controller_count) == quorum


@pytest.mark.parametrize("values, expected", [
    ({"controllers": 4, "combined": False}, "msa:kafka.controllers: 4 is even: a quorum of 4 needs 3 voters up"),
    ({"controllers": 2, "brokers": 3, "combined": True}, "msa:kafka.controllers: 2 is even"),
    ({"controllers": 7, "combined": False}, "msa:kafka.controllers: 7 is not a quorum size this stack runs; use 1, 3 or 5"),
    ({"controllers": 0}, "msa:kafka.controllers: 0 is not a quorum size"),
    ({"controllers": 3, "brokers": 1, "combined": True}, "msa:kafka.controllers: 3 combined controllers need at least 3 brokers"),
    ({"controllers": 3, "brokers": 2}, "msa:kafka.controllers: 3 combined controllers need at least 3 brokers"),
    ({"mode": "raft"}, "msa:kafka.mode:"),
    ({"combined": "yes"}, "msa:kafka.combined:"),
    ({"controllerHeap": "2g"}, "msa:kafka.controllerHeap: 2g does not fit its container"),
    ({"authentication": "sasl", "transition": "scram-added"}, "msa:kafka.transition: is no longer needed"),
])
def test_quorum_mistakes_are_one_line_naming_the_key(values, expected):
    assert config_error(_kafka(**{"mode": "kraft", **values})).startswith(expected)


def test_combined_broker_env_makes_only_the_first_pods_controllers():
    env = kraft_broker_env(Kafka(mode="kraft", brokers=3, combined=True, controllers=1), NAMES)
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "0@kafka-0.kafka-headless.msa.svc.cluster.local:9093"
    assert env["KAFKA_PROCESS_ROLES"] == "broker" and env["MSA_CONTROLLERS"] == "1"
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env and "KAFKA_BROKER_ID" not in env
    # One broker: Kafka's defaults (factor 3) could not create the internal topics.
    assert Kafka(mode="kraft").brokers == 1
    one = kraft_broker_env(Kafka(mode="kraft"), NAMES)
    assert one["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == one["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert one["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "1"


def test_dedicated_controllers_have_their_own_ids_and_no_broker_listener():
    kafka = Kafka(mode="kraft", brokers=3, overrides={"num.partitions": 6})
    env = controller_env(kafka, NAMES)
    assert env["KAFKA_PROCESS_ROLES"] == "controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",") == [
        f"{100 + i}@kafka-controller-{i}.kafka-controller-headless.msa.svc.cluster.local:9093" for i in range(3)]
    assert "KAFKA_ADVERTISED_LISTENERS" not in env     # cp-kafka's configure refuses it on a controller
    # The active controller places topics created without a factor: it needs the stack's values too.
    assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3" and env["KAFKA_NUM_PARTITIONS"] == "6"
    assert kraft_broker_env(kafka, NAMES)["MSA_CONTROLLERS"] == "0"


def test_cluster_ids_look_like_kafka_storage_random_uuid():
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for text in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", text) and not text.startswith("-")


def test_the_cluster_id_is_made_once_and_kept():
    provider = KafkaClusterIdProvider()
    settings = quorum_settings(Kafka(mode="kraft"))
    created = provider.create({**settings, "clusterId": None}).outs
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", created["clusterId"])
    assert not provider.diff("id", created, {**settings, "clusterId": None}).changes
    grown = quorum_settings(Kafka(mode="kraft", brokers=2))
    assert provider.update("id", created, {**grown, "clusterId": None}).outs["clusterId"] == created["clusterId"]
    # ZooKeeper mode: Kafka keeps its own id in ZooKeeper; none is made here.
    assert provider.create({**quorum_settings(Kafka(mode="zookeeper")), "clusterId": None}).outs["clusterId"] == ""


@pytest.mark.parametrize("old, new, key", [
    (Kafka(mode="zookeeper"), Kafka(mode="kraft"), "kafka.mode"),
    (Kafka(mode="kraft"), Kafka(mode="zookeeper"), "kafka.mode"),
    (Kafka(mode="kraft"), Kafka(mode="kraft", brokers=3), "kafka.combined"),
    (Kafka(mode="kraft", brokers=3), Kafka(mode="kraft", brokers=3, controllers=5), "kafka.controllers"),
])
def test_a_running_quorum_does_not_change(old, new, key):
    ((blamed, message),) = quorum_change_problems(quorum_settings(old), quorum_settings(new))
    assert blamed == key and message.startswith(f"msa:{key}:") and "\n" not in message
    failures = KafkaClusterIdProvider().check(quorum_settings(old), quorum_settings(new)).failures
    assert [f.property for f in failures] == [key]


@pytest.mark.parametrize("old, new", [
    (None, Kafka(mode="kraft")),
    (Kafka(mode="kraft"), Kafka(mode="kraft", brokers=2)),
    (Kafka(mode="kraft"), Kafka(mode="kraft", brokers=3, combined=True, controllers=1)),
    (Kafka(mode="kraft", brokers=3), Kafka(mode="kraft", brokers=9)),
    (Kafka(mode="zookeeper"), Kafka(mode="zookeeper", brokers=3)),
])
def test_broker_count_changes_keep_the_quorum(old, new):
    assert quorum_change_problems(quorum_settings(old) if old else {}, quorum_settings(new)) == []


def test_growing_a_combined_dev_stack_says_how_to_keep_its_quorum():
    ((_, message),) = quorum_change_problems(quorum_settings(Kafka(mode="kraft")), quorum_settings(Kafka(mode="kraft", brokers=3)))
    assert "set msa:kafka.combined: true and msa:kafka.controllers: 1 explicitly" in message


def test_a_stack_deployed_before_the_mode_key_is_not_taken_for_kraft():
    from msa.kafka.storage import storage_change_problems, storage_settings

    before = {k: v for k, v in storage_settings(Kafka(mode="zookeeper")).items() if k != "kafka.mode"}   # an older release's record
    ((key, message),) = storage_change_problems(before, storage_settings(Kafka()))
    assert key == "kafka.mode" and message.startswith("msa:kafka.mode: this stack was deployed in ZooKeeper mode")
    assert storage_change_problems(before, storage_settings(Kafka(mode="zookeeper"))) == []
    assert storage_change_problems({}, storage_settings(Kafka())) == []                                   # a new stack
