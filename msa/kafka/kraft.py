"""KRaft pods' settings as pure data: the KAFKA_* environment cp-kafka 7.9 turns into properties.

cp-kafka's entrypoint runs KRaft when KAFKA_PROCESS_ROLES is set: `configure` then requires CLUSTER_ID
(and refuses KAFKA_ADVERTISED_LISTENERS on a controller-only node), and `ensure` formats the storage
with `kafka-storage format --cluster-id=$CLUSTER_ID` unless it is formatted already. The quorum is
static: `controller.quorum.voters` names every voter (msa.names.KafkaNames.quorum_voters).

- Combined (`msa:kafka.combined`, the default below 3 brokers): broker pods 0..controllers-1 are
  controllers too (`process.roles=broker,controller`, a CONTROLLER listener beside PLAINTEXT); the
  start command decides per pod from its ordinal, so a broker added later is a broker only and the
  quorum stays as it is.
- Dedicated: a `kafka-controller` StatefulSet, `process.roles=controller`, node id 100 + ordinal.

CLUSTER_ID is not here: it is the KafkaClusterId resource's output (cluster_id.py), added by the
component. The broker properties (replication factors for one broker, ...) are the same as in
ZooKeeper mode (msa.config.kafka_properties): `__cluster_metadata` is replicated by the quorum itself.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from .. import k8s as kx
from ..config import Kafka as KafkaConfig
from ..config.kafka_properties import broker_properties, is_confluent_server
from ..names import CONTROLLER_ID_BASE, CONTROLLER_LISTENER, CONTROLLER_PORT, KAFKA_PORT, KAFKA_SCRAM_MECHANISM, KafkaNames
from .broker_auth import SCRAM_ONLY, listener_env
from .tls_settings import broker_tls_env
from .kraft_auth import FORMAT_PASSWORD_ENV, controller_sasl_env, protocol_map
from .settings import kafka_env_name

DATA_MOUNT = "/var/lib/kafka/data"
# The open cluster's protocol map (the migration from ZooKeeper runs open).
PROTOCOL_MAP = protocol_map(False)
# A sub-folder: a fresh volume's lost+found would otherwise make Kafka refuse the dir.
LOG_DIRS = f"{DATA_MOUNT}/logs"

# msa:kafka.authentication: sasl: before cp-kafka's entrypoint, a node whose env carries the format-time
# users' passwords (kraft_auth.py: from Secrets) renders its properties with cp-kafka's own `configure` and
# formats its storage with them as SCRAM credentials (KIP-900). `--ignore-formatted`: a formatted volume is
# left as it is (the credentials are in the metadata log by then); cp-kafka's `ensure` then finds it
# formatted. Without those variables (an open cluster, a broker of dedicated controllers) nothing runs.
KRAFT_FORMAT_SCRAM = (
    f'if [ -n "${{{FORMAT_PASSWORD_ENV["broker"]}:-}}" ]; then '
    "/etc/confluent/docker/configure && "
    'kafka-storage format --ignore-formatted --cluster-id="$CLUSTER_ID" -c /etc/kafka/kafka.properties '
    + " ".join(f'--add-scram "{KAFKA_SCRAM_MECHANISM}=[name={user},password=${variable}]"' for user, variable in FORMAT_PASSWORD_ENV.items())
    + "; fi && "
)


# Node id from the StatefulSet ordinal (kafka-2 -> 2); in combined mode the pods below MSA_CONTROLLERS
# are controllers too (roles and a controller listener), then cp-kafka's own entrypoint.
# An open cluster's command has no format step: its pods do not roll for this feature.
def kraft_broker_start(sasl: bool) -> str:
    return ('ordinal="${HOSTNAME##*-}" && export KAFKA_NODE_ID="$ordinal" && '
            'if [ "$ordinal" -lt "${MSA_CONTROLLERS:-0}" ]; then '
            'export KAFKA_PROCESS_ROLES="broker,controller" KAFKA_LISTENERS="$KAFKA_LISTENERS,$MSA_CONTROLLER_LISTENER"; fi && '
            + (KRAFT_FORMAT_SCRAM if sasl else "") + "exec /etc/confluent/docker/run")


# Dedicated controller: node id 100 + ordinal (out of the brokers' ids), then cp-kafka's entrypoint.
def controller_start(sasl: bool) -> str:
    return (f'export KAFKA_NODE_ID="$(( {CONTROLLER_ID_BASE} + ${{HOSTNAME##*-}} ))" && '
            + (KRAFT_FORMAT_SCRAM if sasl else "") + "exec /etc/confluent/docker/run")


def _quorum_env(cfg: KafkaConfig, names: KafkaNames) -> dict[str, str]:
    env = {
        "KAFKA_CONTROLLER_QUORUM_VOTERS": names.quorum_voters(cfg.controller_count, cfg.is_combined),
        "KAFKA_CONTROLLER_LISTENER_NAMES": CONTROLLER_LISTENER,
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": protocol_map(names.sasl, cfg.tls),
        "KAFKA_LOG_DIRS": LOG_DIRS,
        # With authentication the controller listener is SASL/PLAIN (kraft_auth.py; the JAAS line from a Secret).
        **(controller_sasl_env() if names.sasl else {}),
    }
    # Controllers too: in KRaft the active controller places new topics (default.replication.factor,
    # num.partitions for a CreateTopics without them) and keeps the cluster-wide topic defaults.
    for prop, value in broker_properties(cfg.brokers, cfg.overrides, is_confluent_server(cfg.image)).items():
        env[kafka_env_name(prop)] = value
    return env


def kraft_broker_env(cfg: KafkaConfig, names: KafkaNames) -> dict[str, str]:
    """Every KAFKA_* variable of a KRaft broker pod except CLUSTER_ID and the per-pod ones KRAFT_BROKER_START sets."""
    # Open: PLAINTEXT; sasl: the SCRAM listener alone, for clients and peers (broker_auth.SCRAM_ONLY).
    # $(POD_NAME) in the advertised listeners is expanded by the kubelet from the env var declared before.
    listeners = (listener_env(SCRAM_ONLY, names, tls=cfg.tls) if names.sasl else
                 {"KAFKA_LISTENERS": f"PLAINTEXT://0.0.0.0:{KAFKA_PORT}",
                  "KAFKA_ADVERTISED_LISTENERS": names.broker_advertised_listener("$(POD_NAME)"),
                  "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT"})
    env = {
        **_quorum_env(cfg, names),
        "KAFKA_PROCESS_ROLES": "broker",
        **listeners,
        # The controllers' protocol map (listener_env's has no CONTROLLER).
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": protocol_map(names.sasl, cfg.tls),
        # msa:kafka.tls: the SCRAM listener's PEM keystore and truststore (tls.py; the controller listener stays SASL_PLAINTEXT).
        **(broker_tls_env() if cfg.tls else {}),
        "KAFKA_HEAP_OPTS": f"-Xms{cfg.heap} -Xmx{cfg.heap}",
        # Combined: how many of the first pods are controllers, and the listener they add.
        "MSA_CONTROLLERS": str(cfg.controller_count if cfg.is_combined else 0),
        "MSA_CONTROLLER_LISTENER": f"{CONTROLLER_LISTENER}://0.0.0.0:{CONTROLLER_PORT}",
    }
    return env


def controller_env(cfg: KafkaConfig, names: KafkaNames) -> dict[str, str]:
    """Every KAFKA_* variable of a dedicated controller pod except CLUSTER_ID and KAFKA_NODE_ID (CONTROLLER_START)."""
    return {
        **_quorum_env(cfg, names),
        "KAFKA_PROCESS_ROLES": "controller",
        "KAFKA_LISTENERS": f"{CONTROLLER_LISTENER}://0.0.0.0:{CONTROLLER_PORT}",
        "KAFKA_HEAP_OPTS": f"-Xms{cfg.controller_heap} -Xmx{cfg.controller_heap}",
    }


def pod_env(values: dict[str, str], cluster_id: pulumi.Input[str]) -> list[k8s.core.v1.EnvVarArgs]:
    """A KRaft pod's env: POD_NAME first (KAFKA_ADVERTISED_LISTENERS refers to it), the values, CLUSTER_ID."""
    return [kx.field_env("POD_NAME", "metadata.name"), *kx.env(values), k8s.core.v1.EnvVarArgs(name="CLUSTER_ID", value=cluster_id)]
