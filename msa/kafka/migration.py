"""The ZooKeeper -> KRaft migration's settings (KIP-866, Kafka 3.9's "ZooKeeper to KRaft Migration"), pure.

Kafka's procedure, and the env each step renders:
1. `migrate`: dedicated KRaft controllers, formatted with ZooKeeper's cluster id, start in migration mode
   (`zookeeper.metadata.migration.enable` + `zookeeper.connect`; they send the ZooKeeper-mode brokers
   controller RPCs over the brokers' listener); then the brokers roll with migration settings (still
   ZooKeeper mode, plus the controller quorum and `inter.broker.protocol.version` 3.9). Once the last
   one registered with the quorum, the active controller copies the metadata ("Completed migration of
   metadata from ZooKeeper to KRaft") and writes every later change to both.
2. `brokers`: the brokers roll to KRaft (`process.roles=broker`, node.id = the old broker.id, no
   ZooKeeper, no migration flag, no inter.broker.protocol.version: metadata.version rules now).
3. `finalize`: the controllers roll without migration mode and ZooKeeper goes. No way back after this.
Controllers must be dedicated during a migration (Kafka refuses combined mode with the migration flag).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from ..names import CONTROLLER_LISTENER
from .kraft import PROTOCOL_MAP

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"

BROKER_LISTENER = "PLAINTEXT"
# The inter-broker protocol the brokers must run before the quorum accepts their registration: a
# ZooKeeper-mode broker offers metadata.version up to its IBP, the quorum is formatted at 3.9's.
MIGRATION_IBP = "3.9"
MIGRATION_ENABLE = "KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE"
# What only ZooKeeper mode reads: a KRaft broker started with any of it refuses or ignores it.
ZOOKEEPER_ONLY = ("KAFKA_ZOOKEEPER_CONNECT", "KAFKA_INTER_BROKER_PROTOCOL_VERSION", MIGRATION_ENABLE)


def migrating_broker_env(zookeeper_env: Mapping[str, str], quorum_voters: str) -> dict[str, str]:
    """Step 1: a ZooKeeper-mode broker's env plus what lets it register with the KRaft quorum."""
    return {
        **zookeeper_env,
        MIGRATION_ENABLE: "true",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": quorum_voters,
        "KAFKA_CONTROLLER_LISTENER_NAMES": CONTROLLER_LISTENER,
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": PROTOCOL_MAP,
        "KAFKA_INTER_BROKER_PROTOCOL_VERSION": MIGRATION_IBP,
    }


def migrating_controller_env(controller_env: Mapping[str, str], zookeeper_connect: str) -> dict[str, str]:
    """Steps 1-2: a dedicated controller's env in migration mode (reads and dual-writes ZooKeeper,
    reaches the ZooKeeper-mode brokers over their listener)."""
    return {
        **controller_env,
        MIGRATION_ENABLE: "true",
        "KAFKA_ZOOKEEPER_CONNECT": zookeeper_connect,
        "KAFKA_INTER_BROKER_LISTENER_NAME": BROKER_LISTENER,
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": PROTOCOL_MAP,
    }


def kraft_broker_without_zookeeper(env: Mapping[str, str]) -> dict[str, str]:
    """Step 2's check on a KRaft broker env: nothing of ZooKeeper mode left in it."""
    return {k: v for k, v in env.items() if k not in ZOOKEEPER_ONLY}



def gate_script() -> str:
    """The migration Jobs' script (each step's gate; the integration tests run the same text)."""
    return (SCRIPTS_DIR / "kafka-migration.sh").read_text()


# --- the order of the steps (kept in the stack's state by the KafkaClusterId resource) -----------------

DOCS = "docs/kraft-migration.md"
ORDER = ("zookeeper", "migrate", "brokers", "finalize", "kraft")
# Where each recorded phase may go next: the same step again, the next one, or one back (rollback,
# possible until finalize; the docs say what to run by hand besides).
NEXT = {
    "zookeeper": {"zookeeper", "migrate"},
    "migrate": {"migrate", "brokers", "zookeeper"},
    "brokers": {"brokers", "finalize", "migrate"},
    "finalize": {"finalize", "kraft"},
    "kraft": {"kraft"},
}
SETTING = {
    "zookeeper": "msa:kafka.mode: zookeeper", "migrate": "msa:kafka.migration: migrate", "brokers": "msa:kafka.migration: brokers",
    "finalize": "msa:kafka.migration: finalize with mode: kraft", "kraft": "msa:kafka.mode: kraft",
}


def phase(mode: str, migration: str) -> str:
    """Where the stack is on the way: zookeeper | migrate | brokers | finalize | kraft."""
    if mode == "kraft":
        return "finalize" if migration == "finalize" else "kraft"
    return migration if migration in ("migrate", "brokers") else "zookeeper"


def step_problem(old, new: str) -> str:
    """'' when moving from phase `old` (None: nothing recorded yet) to `new` keeps Kafka's order; else one line."""
    if old is None:
        # A first deploy: a new stack (either mode) or a running ZooKeeper stack starting its migration.
        old = new if new in ("zookeeper", "kraft") else "zookeeper"
    if new in NEXT[old]:
        return ""
    key = "msa:kafka.migration" if new in ("migrate", "brokers", "finalize") else "msa:kafka.mode"
    if old in ("finalize", "kraft"):
        return (f"{key}: this stack's Kafka runs in KRaft mode (the migration is finalized) and Kafka cannot move a KRaft cluster back "
                "to ZooKeeper; keep msa:kafka.mode: kraft")
    if old == "zookeeper" and new == "kraft":
        return (f"{key}: this stack's Kafka runs in ZooKeeper mode; kraft would start an empty cluster beside its data: keep mode: "
                f"zookeeper and migrate it step by step, starting with msa:kafka.migration: migrate ({DOCS})")
    if ORDER.index(new) > ORDER.index(old):
        missing = ORDER[ORDER.index(old) + 1]
        value = "kraft" if new == "kraft" else new
        return (f"{key}: {value} skips the step {SETTING[missing]} (this stack is at {SETTING[old]}); run that step first, "
                f"then each next one ({DOCS})")
    # One step back that skips one: brokers -> zookeeper.
    return (f"msa:kafka.migration: the brokers run in KRaft mode; back to ZooKeeper goes through msa:kafka.migration: migrate first (the "
            f"brokers return to ZooKeeper mode), then the rollback in {DOCS}")
