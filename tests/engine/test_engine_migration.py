"""The ZooKeeper -> KRaft migration through the real engine on a running dev stack: each `msa:kafka.migration`
step rolls in Kafka's order (the gate Job, the controllers, the brokers, the check Job), a skipped step is
refused before anything changes, a step run again changes nothing, and ZooKeeper goes only at finalize.
kwok makes the pods Ready and the Jobs succeed; the scripts themselves are proved on real Kafka in
tests/integration/test_kraft_migration.py."""

from __future__ import annotations

import pytest
from pulumi import automation as auto

from engine.checks import assert_before
from engine.stack import set_kafka

pytestmark = [pytest.mark.engine, pytest.mark.integration]

ZK_ID = "q0cT5H2rQ6yXmZr2u6wK8A"
GATE, CHECK = ("kafka-migration-gate", "batch/v1:Job"), ("kafka-migration-check", "batch/v1:Job")
KAFKA, CONTROLLERS = ("kafka", "apps/v1:StatefulSet"), ("kafka-controller", "apps/v1:StatefulSet")


def env_of(control_plane, name: str) -> dict:
    (container,) = control_plane.get("statefulset", name)["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value") for e in container["env"]}


def test_migration_steps_roll_in_kafkas_order_and_refuse_a_skip(engine_stack, control_plane):
    # An open cluster: migrating an authenticated (sasl, now the default) ZooKeeper stack is refused on its own.
    stack = engine_stack("dev", set_kafka(authentication="none"))
    stack.up()
    stack.edit(set_kafka(migration="brokers", combined=False, controllers=1, clusterId=ZK_ID))
    with pytest.raises(auto.CommandError) as refused:
        stack.up()
    assert "msa:kafka.migration: brokers skips the step msa:kafka.migration: migrate" in str(refused.value)
    assert control_plane.get("statefulset", "kafka-controller") is None          # nothing changed

    stack.edit(set_kafka(migration="migrate"))
    run = stack.up()
    assert_before(run, GATE, CONTROLLERS)
    assert_before(run, CONTROLLERS, KAFKA)
    assert_before(run, KAFKA, CHECK)
    broker, controller = env_of(control_plane, "kafka"), env_of(control_plane, "kafka-controller")
    assert broker["KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE"] == "true" and "KAFKA_PROCESS_ROLES" not in broker
    assert controller["KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE"] == "true" and controller["CLUSTER_ID"] == ZK_ID
    assert set(stack.up().changes) == {"same"}                                   # the step again: nothing moves

    stack.edit(set_kafka(migration="brokers"))
    run = stack.up()
    assert run.changed()["StatefulSet/kafka"] == "update" and "StatefulSet/kafka-controller" not in run.changed()
    assert_before(run, GATE, KAFKA)
    assert_before(run, KAFKA, CHECK)
    broker = env_of(control_plane, "kafka")
    assert broker["KAFKA_PROCESS_ROLES"] == "broker" and "KAFKA_ZOOKEEPER_CONNECT" not in broker and broker["CLUSTER_ID"] == ZK_ID

    stack.edit(set_kafka(mode="kraft", migration="finalize"))
    run = stack.up()
    assert_before(run, GATE, CONTROLLERS)
    assert run.changed()["StatefulSet/zookeeper"] == "delete"
    assert "KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE" not in env_of(control_plane, "kafka-controller")
    assert control_plane.get("statefulset", "zookeeper") is None

    stack.edit(lambda config: config["msa:kafka"].pop("migration"))
    run = stack.up()
    assert not {k for k, v in run.changed().items() if k.startswith("StatefulSet/")}, run.changed()
    stack.edit(set_kafka(mode="zookeeper"))
    with pytest.raises(auto.CommandError) as refused:
        stack.preview()
    assert "cannot move a KRaft cluster back to ZooKeeper" in str(refused.value)
