"""Day two through the real engine on a running dev stack: storage grows in place (claims patched, no
StatefulSet replaced), keeps its size when brokers go, and a shrink is refused before anything changes."""

from __future__ import annotations

import pytest
from pulumi import automation as auto

from engine.stack import set_kafka

pytestmark = [pytest.mark.engine, pytest.mark.integration]


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
