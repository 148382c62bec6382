"""Day two through the real engine on a running dev stack: brokers 1 -> 3 -> 1, ZooKeeper 1 -> 3 -> 1,
storage grow and a refused storage shrink. Order is asserted on the engine's own event stream (a step's
outputs event before the next step's start) and on what the API server holds."""

from __future__ import annotations

import pytest
from pulumi import automation as auto

from engine.checks import assert_before

pytestmark = [pytest.mark.engine, pytest.mark.integration]

DRAIN, REBALANCE, SHRINK = ("kafka-drain", "batch/v1:Job"), ("kafka-rebalance", "batch/v1:Job"), ("zookeeper-shrink", "batch/v1:Job")
KAFKA, ZOOKEEPER = ("kafka", "apps/v1:StatefulSet"), ("zookeeper", "apps/v1:StatefulSet")


def set_kafka(**values):
    return lambda config: config["msa:kafka"].update(values)


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


def test_storage_grows_in_place_and_a_shrink_is_refused_before_anything_changes(engine_stack, control_plane):
    stack = engine_stack("dev", set_kafka(brokers=3))
    stack.up()
    before = {name: control_plane.get("statefulset", name)["metadata"]["uid"] for name in ("kafka", "zookeeper")}

    stack.edit(set_kafka(storageSize="20Gi", zookeeperStorageSize="4Gi"))
    run = stack.up()
    # Nothing is replaced but the verification, which runs again on every change of what it checks.
    replaced = {key for key, op in run.changed().items() if op in ("replace", "delete")}
    assert replaced <= {"Job/verify", "ConfigMap/verify"}, run.changed()
    assert "StatefulSet/kafka" not in run.changed() and run.changed()["PersistentVolumeClaimPatch/data-kafka-0"] == "update"
    for claim in ("data-kafka-0", "data-kafka-1", "data-kafka-2"):
        assert control_plane.get("pvc", claim)["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert control_plane.get("pvc", "data-zookeeper-0")["spec"]["resources"]["requests"]["storage"] == "4Gi"
    assert {name: control_plane.get("statefulset", name)["metadata"]["uid"] for name in before} == before
    assert set(stack.up().changes) == {"same"}

    # Fewer brokers after a growth: the patches of data-kafka-1/2 go (regression: the provider handed back
    # the size they alone owned and the API server refused, `spec.resources[storage]: Required value`).
    stack.edit(set_kafka(brokers=1))
    stack.up()
    for claim in ("data-kafka-1", "data-kafka-2"):
        assert control_plane.get("pvc", claim)["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert set(stack.up().changes) == {"same"}

    def snapshot() -> dict:
        """Spec generations of the workloads and the claims' requests: what a change would move."""
        seen = {kind: {o["metadata"]["name"]: (o["metadata"]["uid"], o["metadata"].get("generation")) for o in control_plane.items(kind)}
                for kind in ("statefulsets", "jobs", "deployments", "services")}
        seen["claims"] = {o["metadata"]["name"]: o["spec"]["resources"] for o in control_plane.items("persistentvolumeclaims")}
        return seen

    versions = snapshot()
    stack.edit(set_kafka(storageSize="15Gi"))
    with pytest.raises(auto.errors.CommandError) as refused:
        stack.preview()
    assert "msa:kafka.storageSize: 15Gi is smaller than the 20Gi the volumes already have" in str(refused.value)
    with pytest.raises(auto.errors.CommandError):
        stack.up()
    assert snapshot() == versions                          # nothing changed in the cluster
    assert control_plane.get("pvc", "data-kafka-0")["spec"]["resources"]["requests"]["storage"] == "20Gi"
