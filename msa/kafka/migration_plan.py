"""What each step of the ZooKeeper -> KRaft migration renders (pure): which workloads exist, in which mode,
with which extra settings, and which of the migration Jobs run before and after the step's rolls.

Order inside one `pulumi up` (the resources' dependencies; Pulumi deletes what left the program last):
    migrate:  gate(cluster-id) -> controllers (migration mode) -> brokers (ZooKeeper + migration) -> check(migrated)
    brokers:  gate(migrated)   -> controllers (unchanged)      -> brokers (KRaft)                 -> check(kraft)
    finalize: gate(kraft)      -> controllers (no migration)   -> brokers (unchanged)  ... ZooKeeper deleted last
Every step starts with the check of the one before, on the cluster itself: a step whose `up` failed or
was interrupted never lets the next one roll anything (the KafkaClusterId resource keeps the order of
the settings; the gate keeps the order of what really happened).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from ..config import Kafka as KafkaConfig
from ..names import KafkaNames
from .migration import migrating_broker_env, migrating_controller_env, phase

GATE = {"migrate": "cluster-id", "brokers": "migrated", "finalize": "kraft"}
CHECK = {"migrate": "migrated", "brokers": "kraft"}
# A migration waits for brokers to register and the metadata to be copied: minutes, not seconds.
GATE_TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class MigrationStep:
    """One step's render. `kraft_view`: the config the KRaft parts (controllers, KRaft brokers) are made from."""

    step: str
    kraft_view: KafkaConfig
    zookeeper: bool              # the ensemble still exists (until finalize's end)
    brokers_kraft: bool          # the brokers run KRaft from this step on
    controllers_migrating: bool  # the controllers run in migration mode
    gate: str                    # the kafka-migration.sh STEP that runs before any roll
    check: Optional[str]         # ... and after the brokers' roll


def migration_step(cfg: KafkaConfig) -> Optional[MigrationStep]:
    """The step being rendered, or None outside a migration (a plain ZooKeeper or KRaft stack)."""
    step = phase(cfg.mode, cfg.migration)
    if step not in GATE:
        return None
    view = cfg.model_copy(update={"mode": "kraft", "migration": "none"})
    return MigrationStep(step, view, zookeeper=step != "finalize", brokers_kraft=step != "migrate",
                         controllers_migrating=step != "finalize", gate=GATE[step], check=CHECK.get(step))


def controller_extra_env(step: MigrationStep, names: KafkaNames) -> dict[str, str]:
    """What the controllers' env gets besides kraft.controller_env during the step."""
    if not step.controllers_migrating:
        return {}
    return migrating_controller_env({}, names.zookeeper_connect)


def broker_extra_env(step: MigrationStep, cfg: KafkaConfig, names: KafkaNames) -> dict[str, str]:
    """What a ZooKeeper-mode broker's env gets in the step `migrate` (none once the brokers run KRaft)."""
    if step.brokers_kraft:
        return {}
    return migrating_broker_env({}, names.quorum_voters(step.kraft_view.controller_count, combined=False))


def gate_env(cfg: KafkaConfig, names: KafkaNames, check: str) -> Mapping[str, str]:
    """The migration Job's env: everything that decides its work (a new step is a new Job run)."""
    return {
        "STEP": check,
        "ZOOKEEPER_CONNECT": names.zookeeper_connect,
        "BOOTSTRAP_SERVERS": names.bootstrap_servers,
        "TARGET_BROKERS": str(cfg.brokers),
        "CLUSTER_ID": cfg.cluster_id or "",
        "TIMEOUT_SECONDS": str(GATE_TIMEOUT_SECONDS),
    }
