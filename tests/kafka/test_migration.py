"""The ZooKeeper -> KRaft migration's settings and step order (msa/kafka/migration.py), without servers."""

import subprocess

import pytest

from msa.kafka import migration
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
])
def test_phase(mode, step, expected):
    assert phase(mode, step) == expected


@pytest.mark.parametrize("old,new", [
    (None, "zookeeper"), (None, "migrate"), (None, "kraft"),
    ("zookeeper", "zookeeper"), ("zookeeper", "migrate"), ("migrate", "migrate"), ("migrate", "brokers"),
    ("brokers", "brokers"), ("brokers", "kraft"), ("kraft", "kraft"),
    ("migrate", "zookeeper"), ("brokers", "migrate"),       # rollback, one step at a time, until finalized
])
def test_each_step_may_run_again_or_go_on(old, new):
    assert step_problem(old, new) == ""


@pytest.mark.parametrize("old,new,words", [
    (None, "brokers", "msa:kafka.migration: brokers skips the step msa:kafka.migration: migrate"),
    ("zookeeper", "brokers", "msa:kafka.migration: brokers skips the step msa:kafka.migration: migrate"),
    ("zookeeper", "kraft", "msa:kafka.mode: kraft skips the step msa:kafka.migration: migrate"),
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
