"""What each migration step renders (msa/kafka/migration_plan.py), without Pulumi."""

import pytest

from msa.config import Kafka
from msa.kafka.migration import MIGRATION_ENABLE
from msa.kafka.migration_plan import broker_extra_env, controller_extra_env, gate_env, migration_step
from msa.names import KafkaNames

NAMES = KafkaNames("msa", "cluster.local")
ZK_ID = "q0cT5H2rQ6yXmZr2u6wK8A"


def _cfg(mode: str, step: str) -> Kafka:
    return Kafka(mode=mode, migration=step, combined=False, controllers=3, brokers=3, cluster_id=ZK_ID)


@pytest.mark.parametrize("mode", ["zookeeper", "kraft"])
def test_no_step_outside_a_migration(mode):
    assert migration_step(Kafka(mode=mode)) is None


def test_migrate_starts_controllers_in_migration_mode_and_keeps_the_brokers_in_zookeeper_mode():
    step = migration_step(_cfg("zookeeper", "migrate"))
    assert (step.zookeeper, step.brokers_kraft, step.controllers_migrating, step.gate, step.check) == (True, False, True, "cluster-id", "migrated")
    assert step.kraft_view.kraft and not step.kraft_view.is_combined and step.kraft_view.controller_count == 3
    controller = controller_extra_env(step, NAMES)
    assert controller[MIGRATION_ENABLE] == "true" and controller["KAFKA_ZOOKEEPER_CONNECT"] == NAMES.zookeeper_connect
    broker = broker_extra_env(step, _cfg("zookeeper", "migrate"), NAMES)
    assert broker["KAFKA_CONTROLLER_QUORUM_VOTERS"] == NAMES.quorum_voters(3, combined=False)
    assert broker[MIGRATION_ENABLE] == "true" and broker["KAFKA_INTER_BROKER_PROTOCOL_VERSION"] == "3.9"


def test_brokers_rolls_the_brokers_to_kraft_and_keeps_the_controllers_migrating():
    step = migration_step(_cfg("zookeeper", "brokers"))
    assert (step.zookeeper, step.brokers_kraft, step.controllers_migrating, step.gate, step.check) == (True, True, True, "migrated", "kraft")
    assert broker_extra_env(step, _cfg("zookeeper", "brokers"), NAMES) == {}
    assert controller_extra_env(step, NAMES)[MIGRATION_ENABLE] == "true"


def test_finalize_takes_the_controllers_out_of_migration_mode_and_zookeeper_away():
    step = migration_step(_cfg("kraft", "finalize"))
    assert (step.zookeeper, step.brokers_kraft, step.controllers_migrating, step.gate, step.check) == (False, True, False, "kraft", None)
    assert controller_extra_env(step, NAMES) == {}


def test_each_step_is_a_new_job_run_and_the_same_step_is_not():
    envs = [gate_env(_cfg(m, s), NAMES, c) for m, s, c in [("zookeeper", "migrate", "cluster-id"), ("zookeeper", "brokers", "migrated")]]
    assert envs[0] != envs[1]
    assert gate_env(_cfg("zookeeper", "migrate"), NAMES, "cluster-id") == envs[0]
    assert envs[0]["CLUSTER_ID"] == ZK_ID and envs[0]["TARGET_BROKERS"] == "3"
