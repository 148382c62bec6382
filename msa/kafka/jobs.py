"""The Kafka admin Jobs' scripts and inputs (pure): drain before a shrink, rebalance after a change.

Each Job runs one bash script in the configured cp-kafka image, which has the Kafka tools
(`kafka-topics`, `kafka-reassign-partitions`, `kafka-configs`, `zookeeper-shell`) and python3. The
script is kafka-admin-lib.sh + the planner (reassign.py, copied in verbatim) + the Job's own
part. Everything that decides a Job's work is in its env, so a change of any of it changes the Job's
spec and Pulumi runs it again; nothing else does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..config.kafka_properties import broker_properties
from ..names import KAFKA_PORT, KafkaNames
from . import reassign as kafka_reassign
from .client_auth import CLIENT_CONFIG_ENV
from .zookeeper_auth import SERVER_AUTH_DIR, zookeeper_server_env

SCRIPTS = Path(__file__).resolve().parent / "scripts"
# Moving data takes as long as copying it: 20 minutes covers a few GiB per broker on a small cluster.
REASSIGN_TIMEOUT_SECONDS = 1200
INTERNAL_TOPICS = {
    "__consumer_offsets": "offsets.topic.replication.factor",
    "__transaction_state": "transaction.state.log.replication.factor",
}
INTERNAL_MIN_ISR = {"__transaction_state": "transaction.state.log.min.isr"}
_PLANNER_END = "MSA_PLANNER_PY"


def _script(body: str) -> str:
    planner = Path(kafka_reassign.__file__).read_text()
    assert _PLANNER_END not in planner
    return (
        "#!/usr/bin/env bash\n"
        + (SCRIPTS / "kafka-admin-lib.sh").read_text()
        + 'MSA_PLANNER="$WORK/planner.py"\n'
        + f"cat >\"$MSA_PLANNER\" <<'{_PLANNER_END}'\n{planner}{_PLANNER_END}\n"
        + (SCRIPTS / body).read_text()
    )


def drain_script() -> str:
    return _script("kafka-drain.sh")


def rebalance_script() -> str:
    return _script("kafka-rebalance.sh")


def _common_env(cfg, names: KafkaNames, client_config: Optional[str]) -> dict[str, str]:
    env = {
        "BOOTSTRAP_SERVERS": names.bootstrap_servers,
        "TARGET_BROKERS": str(cfg.brokers),
        "TIMEOUT_SECONDS": str(REASSIGN_TIMEOUT_SECONDS),
    }
    if cfg.mode == "kraft":
        # No ZooKeeper: brokers are read from the cluster, the change record lives in a Kafka topic, and
        # whether Kafka ever ran is whether the first broker pod has a DNS name (the headless Service).
        env.update({"METADATA": "kraft", "FIRST_BROKER_HOST": names.broker_host("0")})
    else:
        # The client Service: it reaches whichever members are ready, whatever the ensemble size.
        env["ZOOKEEPER_CONNECT"] = names.zookeeper_connect
    if client_config:
        # The admin user's client.properties (client_auth.CLIENT_CONFIG): every Kafka tool call takes it.
        env[CLIENT_CONFIG_ENV] = client_config
    return env


def drain_env(cfg, names: KafkaNames, client_config: Optional[str] = None) -> dict[str, str]:
    # The min ISR the brokers will run after the change, bridged by the drain until they restart.
    return {**_common_env(cfg, names, client_config), "TARGET_MIN_ISR": broker_properties(cfg.brokers, cfg.overrides)["min.insync.replicas"]}


def rebalance_env(cfg, names: KafkaNames, client_config: Optional[str] = None) -> dict[str, str]:
    props = broker_properties(cfg.brokers, cfg.overrides)
    pairs = lambda d: ",".join(f"{topic}={props[key]}" for topic, key in d.items())  # noqa: E731
    return {
        **_common_env(cfg, names, client_config),
        "WANTED_RF": pairs(INTERNAL_TOPICS),
        "DEFAULT_RF": props["default.replication.factor"],
        "WANTED_MIN_ISR": pairs(INTERNAL_MIN_ISR),
    }


def kafka_ready_script() -> str:
    """The brokers' readiness probe (python3 -c): registered and in sync, one Metadata request, no JVM."""
    return (SCRIPTS / "kafka_ready.py").read_text()


def kafka_ready_command(port: int, client_config: Optional[str] = None) -> list[str]:
    """The probe's exec command against the broker's own listener on `port`; on an authenticating listener
    with the client.properties of a user it logs in as (SCRAM-SHA-512). -S: no site module, a third less
    start-up time for a probe that needs only the standard library. The open listener's probe is the
    command of old (no arguments): an open cluster's brokers do not roll for it."""
    if port == KAFKA_PORT and not client_config:
        return ["python3", "-S", "-c", kafka_ready_script()]
    return ["python3", "-S", "-c", kafka_ready_script(), str(port), *([client_config] if client_config else [])]


# --- ZooKeeper ----------------------------------------------------------------------------------------

def _zookeeper_script(body: str) -> str:
    """The body (after its shebang line) with zookeeper-lib.sh's functions before it."""
    shebang, rest = (SCRIPTS / body).read_text().split("\n", 1)
    return f"{shebang}\n" + (SCRIPTS / "zookeeper-lib.sh").read_text() + "\n" + rest


def zookeeper_start_script() -> str:
    return _zookeeper_script("zookeeper-start.sh")


def zookeeper_ready_script() -> str:
    return (SCRIPTS / "zookeeper-ready.sh").read_text()


def zookeeper_shrink_script() -> str:
    return _zookeeper_script("zookeeper-shrink.sh")


def zookeeper_acl_migration_script() -> str:
    return (SCRIPTS / "zookeeper-acl-migration.sh").read_text()


def zookeeper_member_env(names: KafkaNames) -> dict[str, str]:
    """What the start and readiness scripts need besides cp-zookeeper's ZOOKEEPER_* settings. The same
    for every ensemble size: a new size restarts no member."""
    return {"ZK_SELF_TEMPLATE": names.zookeeper_self_template, "ZK_ENSEMBLE_CONNECT": names.zookeeper_connect,
            **zookeeper_server_env()}


def zookeeper_shrink_env(members: int, names: KafkaNames) -> dict[str, str]:
    # ZK_AUTH_DIR: the super user's password (zookeeper-auth Secret), for reconfig.
    return {"ZK_ENSEMBLE_CONNECT": names.zookeeper_connect, "TARGET_MEMBERS": str(members), "ZK_AUTH_DIR": SERVER_AUTH_DIR}
