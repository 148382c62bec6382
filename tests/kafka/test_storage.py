"""Storage changes on a running stack: volumes grow in place, StatefulSets are never replaced for it."""

import pytest

from msa.kafka.storage import StorageGuardProvider, storage_change_problems
from conftest import by_name, objects, run_stack

OLD = {"kafka.storageClass": "", "kafka.storageSize": "10Gi", "kafka.zookeeperStorageSize": "2Gi"}


def _resource(result, type_, name):
    return next(r for r in result.resources if r.type == type_ and r.name == name)


@pytest.mark.parametrize("workload", ["kafka", "zookeeper"])
def test_statefulsets_ignore_claim_template_drift(prod, workload):
    record = _resource(prod, "kubernetes:apps/v1:StatefulSet", workload)
    assert record.ignore_changes == ["spec.volumeClaimTemplates"]


def test_every_existing_claim_is_grown_after_its_statefulset():
    result = run_stack("prod", lambda v: v["msa:kafka"].update(storageSize="80Gi", zookeeperStorageSize="4Gi"))
    kafka = _resource(result, "kubernetes:apps/v1:StatefulSet", "kafka")
    zookeeper = _resource(result, "kubernetes:apps/v1:StatefulSet", "zookeeper")
    patches = {r.name: r for r in result.of_type("kubernetes:core/v1:PersistentVolumeClaimPatch")}
    assert set(patches) == {"data-kafka-0", "data-kafka-1", "data-kafka-2", "data-zookeeper-0", "data-zookeeper-1", "data-zookeeper-2"}
    for name, patch in patches.items():
        owner = kafka if name.startswith("data-kafka") else zookeeper
        assert owner.urn in patch.dependencies, name
    claims = {o["metadata"]["name"]: o for o in objects(result, "PersistentVolumeClaim")}
    assert claims["data-kafka-2"]["spec"]["resources"] == {"requests": {"storage": "80Gi"}}
    assert claims["data-zookeeper-0"]["spec"]["resources"]["requests"]["storage"] == "4Gi"
    assert claims["data-kafka-0"]["metadata"]["annotations"] == {"pulumi.com/patchForce": "true"}
    # The template follows too, for claims the controller creates later (new brokers), but is never applied to old ones.
    (template,) = by_name(result, "StatefulSet", "kafka")["spec"]["volumeClaimTemplates"]
    assert template["spec"]["resources"]["requests"]["storage"] == "80Gi"


@pytest.mark.parametrize("storage_class", ["", "fast-ssd"])
def test_a_claim_patch_is_the_whole_claim_the_statefulset_would_create(storage_class):
    """Regression (engine): a patch of the size alone, applied where the claim does not exist yet (the preview
    of a scale-up, an `up` whose StatefulSet was not awaited), failed with `spec.accessModes: Required value`.
    Each patch declares the claim exactly as the StatefulSet controller creates it from its template, so an
    apply that meets no claim creates the very claim the controller then uses."""
    result = run_stack("prod", lambda v: v["msa:kafka"].update(storageClass=storage_class))
    claims = {o["metadata"]["name"]: o for o in objects(result, "PersistentVolumeClaim")}
    for workload in ("kafka", "zookeeper"):
        statefulset = by_name(result, "StatefulSet", workload)
        (template,) = statefulset["spec"]["volumeClaimTemplates"]
        for ordinal in range(3):
            claim = claims[f"data-{workload}-{ordinal}"]
            assert claim["spec"] == template["spec"]
            assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
            assert claim["spec"].get("storageClassName") == (storage_class or None)
            # The controller labels its claims with the StatefulSet's selector.
            assert claim["metadata"]["labels"] == statefulset["spec"]["selector"]["matchLabels"]


def test_a_removed_claim_patch_leaves_the_claim(prod):
    """Regression (engine): brokers 3 -> 1 removes the patches of data-kafka-1/2; a deleted Patch gives its
    fields back, and after a growth it is the only owner of the size, which the API server refuses to drop
    (`Required value`), failing the `up`. The claims stay, as the StatefulSet leaves them."""
    patches = prod.of_type("kubernetes:core/v1:PersistentVolumeClaimPatch")
    assert patches and all(p.retain_on_delete for p in patches)


def test_statefulsets_wait_for_the_storage_guard(prod):
    guard = next(r for r in prod.resources if r.name == "storage-guard")
    assert guard.inputs["kafka.storageSize"] == by_name(prod, "StatefulSet", "kafka")["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
    for workload in ("kafka", "zookeeper"):
        assert guard.urn in _resource(prod, "kubernetes:apps/v1:StatefulSet", workload).dependencies


def test_first_deploy_and_growth_pass():
    assert storage_change_problems({}, OLD) == []
    assert storage_change_problems(OLD, {**OLD, "kafka.storageSize": "10240Mi", "kafka.zookeeperStorageSize": "3Gi"}) == []


def test_smaller_size_is_refused_with_one_line_naming_the_key():
    ((key, message),) = storage_change_problems(OLD, {**OLD, "kafka.storageSize": "5Gi"})
    assert key == "kafka.storageSize"
    assert message.startswith("msa:kafka.storageSize: 5Gi is smaller than the 10Gi the volumes already have")
    assert 'docs/day2.md "Storage"' in message and "\n" not in message


def test_new_storage_class_is_refused():
    ((key, message),) = storage_change_problems(OLD, {**OLD, "kafka.storageClass": "fast-ssd"})
    assert key == "kafka.storageClass"
    assert "'fast-ssd'" in message and "cluster default" in message


def test_the_guard_provider_refuses_through_check():
    """What the engine calls on preview and up, with the inputs stored in the state as the olds."""
    result = StorageGuardProvider().check({**OLD, "__provider": "…"}, {**OLD, "kafka.zookeeperStorageSize": "1Gi"})
    assert [f.property for f in result.failures] == ["kafka.zookeeperStorageSize"]
    assert StorageGuardProvider().check({}, OLD).failures == []


def test_claim_patches_are_not_in_the_import_document(prod):
    import render

    from conftest import ROOT

    document = render.output_files(prod, ROOT)["import.json"][0]
    assert "PersistentVolumeClaimPatch" not in document and "data-kafka-0" not in document
