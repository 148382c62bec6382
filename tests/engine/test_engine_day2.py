"""Day two through the real engine on a running dev stack: brokers 1 -> 3 -> 1, ZooKeeper 1 -> 3 -> 1
(storage: test_engine_storage.py, a file of its own so the two long tests run on two workers). Order is
asserted on the engine's own event stream (a step's outputs event before the next step's start) and on
what the API server holds."""

from __future__ import annotations

import pytest

from engine.checks import assert_before
from engine.stack import set_kafka

pytestmark = [pytest.mark.engine, pytest.mark.integration]

DRAIN, REBALANCE, SHRINK = ("kafka-drain", "batch/v1:Job"), ("kafka-rebalance", "batch/v1:Job"), ("zookeeper-shrink", "batch/v1:Job")
KAFKA, ZOOKEEPER = ("kafka", "apps/v1:StatefulSet"), ("zookeeper", "apps/v1:StatefulSet")


def test_brokers_and_zookeeper_grow_and_shrink(engine_stack, control_plane):
    stack = engine_stack("dev")
    stack.up()
    kafka_uid = control_plane.get("statefulset", "kafka")["metadata"]["uid"]

    for brokers in (3, 1):
        stack.edit(set_kafka(brokers=brokers))
        # The preview dry-runs the claim patches of brokers that do not exist yet (regression: it failed
        # with `spec.accessModes: Required value` while a patch declared the size alone).
        planned = stack.preview().changed()
        assert planned["StatefulSet/kafka"] == "update" and planned["Job/kafka-drain"] == "replace", planned
        run = stack.up()
        changed = run.changed()
        # The drain Job runs (replaced: its env names the new size) and finishes before the StatefulSet
        # changes; the rebalance Job starts only after the StatefulSet is ready.
        assert changed["Job/kafka-drain"] == "replace" and changed["StatefulSet/kafka"] == "update", changed
        assert changed["Job/kafka-rebalance"] == "replace", changed
        assert_before(run, DRAIN, KAFKA)
        assert_before(run, KAFKA, REBALANCE)
        live = control_plane.get("statefulset", "kafka")
        assert live["spec"]["replicas"] == brokers and live["status"].get("readyReplicas") == brokers
        assert live["metadata"]["uid"] == kafka_uid      # updated in place, never replaced
        drain, rebalance = control_plane.get("job", "kafka-drain"), control_plane.get("job", "kafka-rebalance")
        assert drain["status"].get("succeeded") == 1 and rebalance["status"].get("succeeded") == 1
        assert drain["metadata"]["creationTimestamp"] <= rebalance["metadata"]["creationTimestamp"]
        env = {e["name"]: e["value"] for e in drain["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["TARGET_BROKERS"] == str(brokers)
        # Claims of the brokers that went away stay (as the StatefulSet leaves them), and stay in size.
        assert {f"data-kafka-{i}" for i in range(3)} <= control_plane.names("persistentvolumeclaims")
        assert set(stack.up().changes) == {"same"}

    zookeeper_uid = control_plane.get("statefulset", "zookeeper")["metadata"]["uid"]
    for members in (3, 1):
        stack.edit(set_kafka(zookeeperReplicas=members))
        run = stack.up()
        changed = run.changed()
        assert changed["Job/zookeeper-shrink"] == "replace" and changed["StatefulSet/zookeeper"] == "update", changed
        assert_before(run, SHRINK, ZOOKEEPER)
        live = control_plane.get("statefulset", "zookeeper")
        assert live["spec"]["replicas"] == members and live["status"].get("readyReplicas") == members
        assert live["metadata"]["uid"] == zookeeper_uid
        assert (control_plane.get("poddisruptionbudget", "zookeeper") is not None) == (members >= 3)
        assert set(stack.up().changes) == {"same"}
