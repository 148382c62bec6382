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

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"

CONTROLLER_LISTENER = "CONTROLLER"
BROKER_LISTENER = "PLAINTEXT"
# The inter-broker protocol the brokers must run before the quorum accepts their registration: a
# ZooKeeper-mode broker offers metadata.version up to its IBP, the quorum is formatted at 3.9's.
MIGRATION_IBP = "3.9"
MIGRATION_ENABLE = "KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE"
PROTOCOL_MAP = f"{BROKER_LISTENER}:PLAINTEXT,{CONTROLLER_LISTENER}:PLAINTEXT"
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

STEPS = ("migrate", "brokers")
DOCS = "docs/kraft-migration.md"
# Where each recorded phase may go next: the same step again, the next one, or one back (rollback,
# possible until the finalizing `mode: kraft`; the docs say what to run by hand besides).
NEXT = {
    "zookeeper": {"zookeeper", "migrate"},
    "migrate": {"migrate", "brokers", "zookeeper"},
    "brokers": {"brokers", "kraft", "migrate"},
    "kraft": {"kraft"},
}


def phase(mode: str, migration: str) -> str:
    """zookeeper | migrate | brokers | kraft: where the stack is on the way."""
    return "kraft" if mode == "kraft" else (migration if migration in STEPS else "zookeeper")


def _step_command(target: str) -> str:
    return "msa:kafka.mode: kraft (and remove msa:kafka.migration)" if target == "kraft" else f"msa:kafka.migration: {target}"


def step_problem(old: str, new: str) -> str:
    """'' when moving from phase `old` (None: nothing recorded yet) to `new` keeps Kafka's order; else one line."""
    if old is None:
        old = "zookeeper" if new in ("zookeeper", "migrate", "brokers") else new
    if new in NEXT.get(old, {new}):
        return ""
    if old == "kraft":
        return ("msa:kafka.mode: this stack's Kafka runs in KRaft mode (migration finalized) and Kafka cannot move a KRaft cluster "
                "back to ZooKeeper; keep mode: kraft and remove msa:kafka.migration")
    order = ["zookeeper", *STEPS, "kraft"]
    if order.index(new) > order.index(old):
        missing = order[order.index(old) + 1]
        key = "msa:kafka.mode" if new == "kraft" else "msa:kafka.migration"
        where = "in ZooKeeper mode" if old == "zookeeper" else f"at msa:kafka.migration: {old}"
        return f"{key}: {new} skips the step {_step_command(missing)} (this stack is {where}); run that step first ({DOCS})"
    # The one step back that skips one: brokers -> zookeeper.
    return (f"msa:kafka.migration: the brokers run in KRaft mode; back to ZooKeeper goes through msa:kafka.migration: migrate "
            f"first (the brokers return to ZooKeeper mode), then the rollback in {DOCS}")
