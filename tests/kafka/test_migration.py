"""The ZooKeeper -> KRaft migration's settings and step order (msa/kafka/migration.py), without servers."""

import subprocess

import pytest

from conftest import config_error
from msa.config import Kafka
from msa.kafka import migration
from msa.kafka.cluster_id import KafkaClusterIdProvider, quorum_change_problems, quorum_settings
from msa.kafka.migration import phase, step_problem


def test_migrating_broker_keeps_zookeeper_mode_and_reaches_the_quorum():
    env = migration.migrating_broker_env({"KAFKA_ZOOKEEPER_CONNECT": "zk:2181", "KAFKA_X": "1"}, "100@c-0:9093")
    assert env["KAFKA_ZOOKEEPER_CONNECT"] == "zk:2181" and env["KAFKA_X"] == "1"
    assert "KAFKA_PROCESS_ROLES" not in env
    assert env[migration.MIGRATION_ENABLE] == "true"
    assert env["KAFKA_INTER_BROKER_PROTOCOL_VERSION"] == "3.9"
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    assert "CONTROLLER:PLAINTEXT" in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]


def test_migrating_controller_reads_zookeeper_and_reaches_the_brokers():
    env = migration.migrating_controller_env({"KAFKA_PROCESS_ROLES": "controller"}, "zk:2181")
    assert env["KAFKA_ZOOKEEPER_CONNECT"] == "zk:2181"
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] == "PLAINTEXT"
    assert "PLAINTEXT:PLAINTEXT" in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]


def test_kraft_broker_keeps_nothing_of_zookeeper_mode():
    env = migration.migrating_broker_env({"KAFKA_ZOOKEEPER_CONNECT": "zk:2181", "KAFKA_X": "1"}, "100@c-0:9093")
    assert set(migration.kraft_broker_without_zookeeper(env)) & set(migration.ZOOKEEPER_ONLY) == set()


@pytest.mark.parametrize("mode,step,expected", [
    ("zookeeper", "none", "zookeeper"), ("zookeeper", "migrate", "migrate"), ("zookeeper", "brokers", "brokers"), ("kraft", "none", "kraft"),
    ("kraft", "finalize", "finalize"),
])
def test_phase(mode, step, expected):
    assert phase(mode, step) == expected


@pytest.mark.parametrize("old,new", [
    (None, "zookeeper"), (None, "migrate"), (None, "kraft"),
    ("zookeeper", "zookeeper"), ("zookeeper", "migrate"), ("migrate", "migrate"), ("migrate", "brokers"),
    ("brokers", "brokers"), ("brokers", "finalize"), ("finalize", "finalize"), ("finalize", "kraft"), ("kraft", "kraft"),
    ("migrate", "zookeeper"), ("brokers", "migrate"),       # rollback, one step at a time, until finalized
])
def test_each_step_may_run_again_or_go_on(old, new):
    assert step_problem(old, new) == ""


@pytest.mark.parametrize("old,new,words", [
    (None, "brokers", "msa:kafka.migration: brokers skips the step msa:kafka.migration: migrate"),
    ("zookeeper", "brokers", "msa:kafka.migration: brokers skips the step msa:kafka.migration: migrate"),
    (None, "finalize", "msa:kafka.migration: finalize skips the step msa:kafka.migration: migrate"),
    ("zookeeper", "kraft", "msa:kafka.mode: this stack's Kafka runs in ZooKeeper mode; kraft would start an empty cluster"),
    ("brokers", "kraft", "msa:kafka.mode: kraft skips the step msa:kafka.migration: finalize with mode: kraft"),
    ("migrate", "finalize", "msa:kafka.migration: finalize skips the step msa:kafka.migration: brokers"),
    ("finalize", "brokers", "cannot move a KRaft cluster back to ZooKeeper"),
    ("migrate", "kraft", "msa:kafka.mode: kraft skips the step msa:kafka.migration: brokers"),
    ("brokers", "zookeeper", "back to ZooKeeper goes through msa:kafka.migration: migrate"),
    ("kraft", "migrate", "cannot move a KRaft cluster back to ZooKeeper"),
    ("kraft", "zookeeper", "cannot move a KRaft cluster back to ZooKeeper"),
])
def test_skipping_a_step_is_refused_in_one_line(old, new, words):
    problem = step_problem(old, new)
    assert words in problem and "\n" not in problem
    assert problem.startswith("msa:kafka.")


def test_gate_script_is_valid_bash_and_refuses_an_unknown_step(tmp_path):
    script = (migration.SCRIPTS_DIR / "kafka-migration.sh")
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    result = subprocess.run(["bash", str(script)], env={"PATH": "/usr/bin:/bin", "STEP": "sideways", "ZOOKEEPER_CONNECT": "x:1"},
                            capture_output=True, text=True)
    assert result.returncode == 1 and "unknown STEP=sideways" in result.stderr


# --- the steps in the stack's state (the KafkaClusterId resource) and their config companions -------------

ZK_ID = "q0cT5H2rQ6yXmZr2u6wK8A"


def _step(mode: str, step: str = "none", **values) -> Kafka:
    extra = {"combined": False, "controllers": 1, "cluster_id": ZK_ID} if step != "none" or mode == "kraft" else {}
    return Kafka(mode=mode, migration=step, **{**extra, **values})


WAY = [_step("zookeeper"), _step("zookeeper", "migrate"), _step("zookeeper", "brokers"), _step("kraft", "finalize"), _step("kraft")]


def test_the_migration_keeps_zookeepers_cluster_id_through_every_step():
    provider = KafkaClusterIdProvider()
    outs = provider.create({**quorum_settings(WAY[0]), "clusterId": None}).outs
    assert outs["clusterId"] == ""                      # ZooKeeper mode: the id lives in ZooKeeper
    for before, after in zip(WAY, WAY[1:]):
        new = {**quorum_settings(after), "clusterId": None}
        assert provider.check(quorum_settings(before), new).failures == []
        assert provider.diff("id", outs, new).changes or before.migration == after.migration == "none"
        outs = provider.update("id", outs, new).outs
        assert outs["clusterId"] == ZK_ID               # never a new id: the controllers are formatted with this one


@pytest.mark.parametrize("skip", [(0, 2), (0, 3), (1, 3), (2, 4), (0, 4)])
def test_the_resource_refuses_a_skipped_step(skip):
    before, after = WAY[skip[0]], WAY[skip[1]]
    (failure,) = KafkaClusterIdProvider().check(quorum_settings(before), quorum_settings(after)).failures
    assert "skips the step" in failure.reason or "empty cluster" in failure.reason


def test_the_cluster_id_may_not_change_during_the_migration():
    ((key, message),) = quorum_change_problems(quorum_settings(WAY[1]), quorum_settings(_step("zookeeper", "brokers", cluster_id="A" * 22)))
    assert key == "kafka.clusterId" and f"this stack's cluster id is {ZK_ID}" in message


def _kafka(**values):
    def edit(v):
        v["msa:kafka"].update(values)
    return edit


@pytest.mark.parametrize("values, expected", [
    ({"migration": "migrate", "combined": False}, "msa:kafka.clusterId: needed to migrate"),
    ({"migration": "migrate", "clusterId": ZK_ID}, "msa:kafka.combined: a migration from ZooKeeper needs dedicated controllers"),
    ({"migration": "finalize", "combined": False, "clusterId": ZK_ID}, "msa:kafka.migration: finalize goes with msa:kafka.mode: kraft"),
    ({"migration": "brokers", "mode": "kraft", "combined": False, "clusterId": ZK_ID}, "msa:kafka.migration: brokers is a step of a stack"),
    ({"migration": "migrate", "combined": False, "clusterId": ZK_ID, "authentication": "sasl"}, "msa:kafka.authentication: sasl cannot be migrated"),
    ({"clusterId": "not-an-id"}, "msa:kafka.clusterId"),
])
def test_migration_config_mistakes_are_one_line(values, expected):
    message = config_error(_kafka(**values))
    assert expected in message, message


def test_the_missing_cluster_id_message_prints_the_command():
    message = config_error(_kafka(migration="migrate", combined=False))
    assert "kubectl -n msa exec zookeeper-0 -- zookeeper-shell localhost:2181 get /cluster/id" in message
    assert "pulumi config set msa:kafka.clusterId <id>" in message
