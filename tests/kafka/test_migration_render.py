"""Each step of the migration as the stack renders it (mock engine): the workloads, their settings, the
Jobs and the NetworkPolicies of the step."""

import pytest

from conftest import by_name, env_of, objects, run_stack

ZK_ID = "q0cT5H2rQ6yXmZr2u6wK8A"


def _step(mode: str, step: str):
    def edit(values):
        values["msa:kafka"].update(mode=mode, migration=step, combined=False, controllers=1, clusterId=ZK_ID,
                                   authentication="none")     # a migration runs open (config refuses sasl)
    return edit


@pytest.fixture(scope="module")
def steps():
    return {step: run_stack("dev", _step(mode, step)) for mode, step in
            (("zookeeper", "migrate"), ("zookeeper", "brokers"), ("kraft", "finalize"))}


def _names(result, kind):
    return {o["metadata"]["name"] for o in objects(result, kind)}


def _job_step(result, name):
    return env_of(by_name(result, "Job", name))["STEP"]


def test_migrate_adds_controllers_in_migration_mode_and_migration_settings_to_the_zookeeper_brokers(steps):
    result = steps["migrate"]
    assert {"zookeeper", "kafka", "kafka-controller"} <= _names(result, "StatefulSet")
    controller, broker = env_of(by_name(result, "StatefulSet", "kafka-controller")), env_of(by_name(result, "StatefulSet", "kafka"))
    assert controller["KAFKA_PROCESS_ROLES"] == "controller" and controller["KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE"] == "true"
    assert controller["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith("100@kafka-controller-0.")
    assert "KAFKA_PROCESS_ROLES" not in broker and broker["KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE"] == "true"
    assert broker["KAFKA_CONTROLLER_QUORUM_VOTERS"] == controller["KAFKA_CONTROLLER_QUORUM_VOTERS"]
    assert (_job_step(result, "kafka-migration-gate"), _job_step(result, "kafka-migration-check")) == ("cluster-id", "migrated")
    assert env_of(by_name(result, "Job", "kafka-migration-gate"))["CLUSTER_ID"] == ZK_ID


def test_brokers_rolls_the_brokers_to_kraft(steps):
    result = steps["brokers"]
    assert {"zookeeper", "kafka", "kafka-controller"} <= _names(result, "StatefulSet")
    broker = env_of(by_name(result, "StatefulSet", "kafka"))
    assert broker["KAFKA_PROCESS_ROLES"] == "broker" and "KAFKA_ZOOKEEPER_CONNECT" not in broker
    assert env_of(by_name(result, "StatefulSet", "kafka-controller"))["KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE"] == "true"
    assert (_job_step(result, "kafka-migration-gate"), _job_step(result, "kafka-migration-check")) == ("migrated", "kraft")


def test_finalize_leaves_a_kraft_stack_without_zookeeper(steps):
    result = steps["finalize"]
    assert "zookeeper" not in _names(result, "StatefulSet") and "zookeeper" not in _names(result, "Service")
    assert "KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE" not in env_of(by_name(result, "StatefulSet", "kafka-controller"))
    assert _job_step(result, "kafka-migration-gate") == "kraft" and "kafka-migration-check" not in _names(result, "Job")
    plain = run_stack("dev", lambda v: v["msa:kafka"].update(mode="kraft", combined=False, controllers=1, clusterId=ZK_ID, authentication="none"))
    for name in ("kafka", "kafka-controller"):
        assert by_name(plain, "StatefulSet", name)["spec"] == by_name(result, "StatefulSet", name)["spec"]


def test_the_controllers_reach_zookeeper_and_the_brokers_during_the_migration(steps):
    policies = {o["metadata"]["name"]: o["spec"] for o in objects(steps["migrate"], "NetworkPolicy")}
    text = str(policies["zookeeper"])
    assert "kafka-controller" in text
    assert "kafka-controller" in str(policies["kafka"]) and "kafka-controller" in policies
