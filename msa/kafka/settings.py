"""A Kafka broker pod's settings as pure data: the KAFKA_* environment cp-kafka turns into properties.

No Pulumi here: the components (cluster.py) place `kafka_env` into the StatefulSet, and the tests
read it back. The names and addresses are msa.names.KafkaNames, the effective broker properties
msa.config.kafka_properties (validation checks overrides against them).
"""

from __future__ import annotations

from ..config import Kafka as KafkaConfig
from ..config.kafka_properties import broker_properties, is_confluent_server
from ..names import KafkaNames
from .broker_auth import OPEN, listener_env, phase_vars
from .tls_settings import broker_tls_env


def kafka_env_name(prop: str) -> str:
    """cp-kafka's mapping of a property to its variable: `_`->`__`, `-`->`___`, `.`->`_`, upper, KAFKA_."""
    return "KAFKA_" + prop.replace("_", "__").replace("-", "___").replace(".", "_").upper()


def property_from_env_name(name: str) -> str:
    """The inverse mapping, as cp-kafka's env_to_props applies it (used by tests to read env back)."""
    body = name[len("KAFKA_"):].lower()
    return body.replace("___", "\0").replace("__", "\1").replace("_", ".").replace("\0", "-").replace("\1", "_")


def kafka_env(cfg: KafkaConfig, names: KafkaNames) -> dict[str, str]:
    """Every KAFKA_* variable of a broker pod except the per-pod ones set by the start command."""
    env = {
        "KAFKA_ZOOKEEPER_CONNECT": names.zookeeper_members_connect(cfg.zookeeper_replicas),
        # PLAINTEXT, or SCRAM for clients and peers in every phase of the move to it, the start command
        # picking one (broker_auth.py). $(POD_NAME) in the advertised listeners is expanded by the
        # kubelet from the env var declared before them.
        **(phase_vars(names, tls=cfg.tls) if names.sasl else listener_env(OPEN, names)),
        # msa:kafka.tls: the SCRAM listener's PEM keystore and truststore, files of the kafka-tls Secret (tls.py).
        **(broker_tls_env() if cfg.tls else {}),
        # A sub-folder: a fresh volume's lost+found would otherwise make the broker refuse the dir.
        "KAFKA_LOG_DIRS": "/var/lib/kafka/data/logs",
        "KAFKA_HEAP_OPTS": f"-Xms{cfg.heap} -Xmx{cfg.heap}",
    }
    for prop, value in broker_properties(cfg.brokers, cfg.overrides, is_confluent_server(cfg.image)).items():
        env[kafka_env_name(prop)] = value
    return env
