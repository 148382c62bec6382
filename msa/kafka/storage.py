"""Storage of the Kafka and ZooKeeper StatefulSets on a running stack: grow in place, never replace.

pulumi-kubernetes treats a StatefulSet's `volumeClaimTemplates` as immutable (a change deletes and
re-creates the whole StatefulSet: every pod down at once) and a new template never reaches existing
PVCs anyway. So the StatefulSets ignore drift there, and each existing PVC (`data-kafka-N`,
`data-zookeeper-N`) is grown in place through the API after the StatefulSet (PersistentVolumeClaimPatch).

What cannot be done in place is refused: a smaller size (Kubernetes cannot shrink a volume) and a new
storageClass for volumes that exist. How the program knows the previous value: a `StorageGuard`
(Pulumi dynamic resource) keeps the applied storage settings as its inputs in the stack's state, and
its provider's `check` gets those old inputs next to the new ones on every `pulumi preview`/`up`: the
previous values the engine itself recorded, with no self-reference and no cluster read. On a first
deploy there are no old inputs and nothing is refused. The StatefulSets wait for the guard, so a
refused change touches neither them nor the volumes.
"""

from __future__ import annotations

from typing import Mapping

from pulumi import dynamic

from ..config.forms import quantity_value

PROCEDURE = 'see docs/day2.md "Storage" for moving the data to new volumes'


def storage_settings(kafka) -> dict[str, str]:
    """The storage keys (as users write them) and their values."""
    return {
        "kafka.storageClass": kafka.storage_class,
        "kafka.storageSize": kafka.storage_size,
        "kafka.zookeeperStorageSize": kafka.zookeeper_storage_size,
        # Also what the volumes hold (ZooKeeper-mode or KRaft logs): see storage_change_problems.
        "kafka.mode": kafka.mode,
    }


def storage_change_problems(old: Mapping[str, str], new: Mapping[str, str]) -> list[tuple[str, str]]:
    """(key, one-line message) for each change existing volumes cannot follow; none on a first deploy."""
    problems = []
    if old and "kafka.mode" not in old and new.get("kafka.mode") == "kraft":
        # Deployed before msa:kafka.mode existed, so in ZooKeeper mode; the KRaft default would put an empty
        # cluster on its volumes (the kafka-cluster-id guard has no record of such a stack yet).
        problems.append(("kafka.mode", "msa:kafka.mode: this stack was deployed in ZooKeeper mode, before msa:kafka.mode existed, and "
                                       "kraft (the default now) would start an empty cluster beside its data; set msa:kafka.mode: zookeeper "
                                       'and migrate later (docs/kraft.md "Migrating from ZooKeeper")'))
    for key in ("kafka.storageSize", "kafka.zookeeperStorageSize"):
        if key in old and key in new and quantity_value(new[key]) < quantity_value(old[key]):
            problems.append((key, f"msa:{key}: {new[key]} is smaller than the {old[key]} the volumes already have, and "
                                  f"volumes cannot shrink; keep {old[key]} or {PROCEDURE}"))
    key = "kafka.storageClass"
    if key in old and key in new and old[key] != new[key]:
        shown = lambda v: repr(v) if v else '"" (the cluster default)'  # noqa: E731
        problems.append((key, f"msa:{key}: the volumes exist in storage class {shown(old[key])} and cannot move to "
                              f"{shown(new[key])} in place; keep {shown(old[key])} or {PROCEDURE}"))
    return problems


def claim_names(statefulset: str, replicas: int, template: str = "data") -> list[str]:
    """The PVCs a StatefulSet's controller creates: <template>-<statefulset>-<ordinal>."""
    return [f"{template}-{statefulset}-{i}" for i in range(replicas)]


class StorageGuardProvider(dynamic.ResourceProvider):
    """Refuses storage changes the volumes cannot follow; stores the settings, creates nothing."""

    def check(self, _olds, news):
        old = {k: v for k, v in (_olds or {}).items() if k.startswith("kafka.")}
        failures = [dynamic.CheckFailure(key, message) for key, message in storage_change_problems(old, news)]
        return dynamic.CheckResult(news, failures)

    def create(self, props):
        return dynamic.CreateResult(id_="storage-settings", outs=props)

    def diff(self, _id, _olds, _news):
        changed = {k for k in set(_olds) | set(_news) if k.startswith("kafka.") and _olds.get(k) != _news.get(k)}
        return dynamic.DiffResult(changes=bool(changed))

    def update(self, _id, _olds, _news):
        return dynamic.UpdateResult(outs=_news)


class StorageGuard(dynamic.Resource):
    def __init__(self, name: str, settings: Mapping[str, str], opts=None):
        super().__init__(StorageGuardProvider(), name, dict(settings), opts)
