"""The KRaft cluster id, generated once and kept in the stack's state, and the guard of the quorum settings.

A KRaft node formats its storage with the cluster id before its first start (cp-kafka's `ensure` runs
`kafka-storage format --cluster-id=$CLUSTER_ID`) and refuses to join nodes formatted with another. A
new id on a running stack means every pod that formats afterwards (a new broker, a replaced volume)
belongs to a cluster that does not exist. So the id is made once, the way `kafka-storage random-uuid`
makes it, and kept: `KafkaClusterId` (a Pulumi dynamic resource like the StorageGuard) generates it in
`create` and every later `update` hands back the stored one; `pulumi refresh` reads the state back
unchanged (the id exists nowhere else the provider could read).

The same resource keeps the quorum settings as its inputs, so its `check` sees the previous ones next
to the new ones (as the StorageGuard does for volumes) and refuses what a running cluster cannot follow:
leaving ZooKeeper mode without the migration, going back from KRaft, and any change of the static
controller quorum (`controller.quorum.voters`: Kafka 3.9 changes voters only in a dynamic quorum, which
cp-kafka 7.9's format does not make). The Kafka workloads wait for it: a refused change touches nothing.

In ZooKeeper mode Kafka keeps its own id in ZooKeeper (`/cluster/id`); no id is generated here then,
and a migration to KRaft formats its controllers with ZooKeeper's id, never a new one.
"""

from __future__ import annotations

import base64
import os
import re
from typing import Mapping, Optional

import pulumi
from pulumi import dynamic

from .credentials import derived_password
from .migration import phase as migration_phase
from .migration import step_problem

MIGRATION_DOCS = 'docs/kraft.md "Migrating from ZooKeeper"'
CLUSTER_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


def new_cluster_id() -> str:
    """16 random bytes as URL-safe base64 without padding (22 characters), as Kafka's Uuid.randomUuid
    makes them; like Kafka, never one that starts with '-' (a command line would read it as an option)."""
    while True:
        text = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def quorum_settings(kafka) -> dict[str, str]:
    """The keys (as users write them) that decide where the metadata lives and who votes on it; during
    the migration from ZooKeeper also its step and the cluster id it formats the controllers with."""
    settings = {"kafka.mode": kafka.mode}
    if kafka.migration != "none":
        settings["kafka.migration"] = kafka.migration
    if kafka.cluster_id:
        settings["kafka.clusterId"] = kafka.cluster_id
    if kafka.mode == "kraft" or kafka.migration != "none":
        settings.update({"kafka.combined": "true" if kafka.is_combined else "false", "kafka.controllers": str(kafka.controller_count),
                         # KRaft formats its users into the metadata once (kraft_auth.py): authentication is fixed too.
                         "kafka.authentication": kafka.authentication})
    return settings


FINGERPRINT_KEY = "kafka.authSecretFingerprint"


def auth_fingerprint(kafka, seed: Optional[pulumi.Input[str]]) -> Optional[pulumi.Output[str]]:
    """KRaft with authentication: a fingerprint of msa:kafkaAuthSecret (an HMAC under it, as the passwords
    are, so the seed stays unknown), kept as a secret input, so the check sees a new seed next to the old."""
    if kafka.mode != "kraft" or kafka.authentication != "sasl" or seed is None:
        return None
    return pulumi.Output.secret(pulumi.Output.from_input(seed).apply(lambda value: derived_password(value, "fingerprint")[:16]))


def _quorum_shown(settings: Mapping[str, str]) -> str:
    where = "combined in the broker pods" if settings.get("kafka.combined") == "true" else "in dedicated controller pods"
    return f"{settings.get('kafka.controllers')} controller(s) {where}"


def quorum_change_problems(old: Mapping[str, str], new: Mapping[str, str]) -> list[tuple[str, str]]:
    """(key, one-line message) for each quorum change a running cluster cannot follow; none on a first deploy
    (the migration's steps: msa/kafka/migration.py, which also refuses a first deploy in the middle of one)."""
    recorded = "kafka.mode" in old
    before = migration_phase(old.get("kafka.mode", ""), old.get("kafka.migration", "none")) if recorded else None
    after = migration_phase(new.get("kafka.mode", ""), new.get("kafka.migration", "none"))
    problem = step_problem(before, after)
    if problem:
        return [(problem.split(":", 2)[1].strip(), problem)]
    if not recorded:
        return []
    if old.get("kafka.clusterId") and new.get("kafka.clusterId") and old["kafka.clusterId"] != new["kafka.clusterId"]:
        return [("kafka.clusterId", f"msa:kafka.clusterId: this stack's cluster id is {old['kafka.clusterId']} (its controllers are formatted "
                                    f"with it); set it back")]
    auth = _authentication_problem(old, new)
    if auth:
        return [auth]
    keep = _quorum_shown(old)
    for key in ("kafka.combined", "kafka.controllers"):
        if key in old and key in new and old.get(key) != new.get(key):
            return [(key, f"msa:{key}: the controller quorum of this stack is {keep}, and Kafka 3.9 cannot change the voters of "
                          f"a static quorum (cp-kafka 7.9 formats no dynamic one, KIP-853); set msa:kafka.combined: {old['kafka.combined']} "
                          f"and msa:kafka.controllers: {old['kafka.controllers']} explicitly to keep it")]
    return []


def _authentication_problem(old: Mapping[str, str], new: Mapping[str, str]) -> Optional[tuple[str, str]]:
    """KRaft's users are formatted into the metadata once: a running open KRaft cluster cannot start to
    authenticate in place, and a new seed would roll every pod onto passwords the quorum does not know."""
    if old.get("kafka.mode") != "kraft" or new.get("kafka.mode") != "kraft":
        return None
    before, after = old.get("kafka.authentication", "none"), new.get("kafka.authentication", "none")
    if before == "none" and after == "sasl":
        return ("kafka.authentication", "msa:kafka.authentication: this KRaft cluster runs open, and a running KRaft cluster cannot "
                                        "move to sasl in place (its users are written when the controllers format their storage); "
                                        "keep authentication: none here, or deploy a new stack with sasl and move the data "
                                        "(docs/security.md)")
    if old.get(FINGERPRINT_KEY) and new.get(FINGERPRINT_KEY) and old[FINGERPRINT_KEY] != new[FINGERPRINT_KEY]:
        return ("kafkaAuthSecret", "msa:kafkaAuthSecret: a new seed on a running KRaft cluster is refused: every pod would roll onto "
                                   "passwords its quorum does not know; set the previous value back (docs/security.md)")
    return None


class KafkaClusterIdProvider(dynamic.ResourceProvider):
    """Generates the cluster id once and refuses quorum changes; creates nothing in the cluster."""

    def check(self, _olds, news):
        old = {k: v for k, v in (_olds or {}).items() if k.startswith("kafka.")}
        failures = [dynamic.CheckFailure(key, message) for key, message in quorum_change_problems(old, news)]
        return dynamic.CheckResult(news, failures)

    def create(self, props):
        return dynamic.CreateResult(id_="kafka-cluster-id", outs={**props, "clusterId": _first_id(None, props)})

    def diff(self, _id, _olds, _news):
        changed = {k for k in set(_olds) | set(_news) if k.startswith("kafka.") and _olds.get(k) != _news.get(k)}
        first_kraft_id = not _olds.get("clusterId") and (_news.get("kafka.mode") == "kraft" or bool(_news.get("kafka.clusterId")))
        return dynamic.DiffResult(changes=bool(changed) or first_kraft_id)

    def update(self, _id, _olds, _news):
        # Never a new id once there is one: the pods' disks are formatted with it.
        return dynamic.UpdateResult(outs={**_news, "clusterId": _first_id(_olds.get("clusterId"), _news)})


def _first_id(stored: Optional[str], props: Mapping[str, str]) -> str:
    """The stored id; else the one the migration brings from ZooKeeper; else, in KRaft mode, a new one; else none yet ("")."""
    if stored:
        return stored
    if props.get("kafka.clusterId"):
        return props["kafka.clusterId"]
    return new_cluster_id() if props.get("kafka.mode") == "kraft" else ""


class KafkaClusterId(dynamic.Resource):
    """`clusterId`: the KRaft cluster id ("" in ZooKeeper mode), the same on every later up."""

    clusterId: pulumi.Output[str]  # noqa: N815  (the output property, as the provider names it)

    def __init__(self, name: str, settings: Mapping[str, str], fingerprint: Optional[pulumi.Input[str]] = None,
                 opts: Optional[pulumi.ResourceOptions] = None):
        props = {**settings, "clusterId": None, **({FINGERPRINT_KEY: fingerprint} if fingerprint is not None else {})}
        super().__init__(KafkaClusterIdProvider(), name, props,
                         pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=[FINGERPRINT_KEY])))
