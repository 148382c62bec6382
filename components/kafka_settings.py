"""Kafka and ZooKeeper settings as pure data: names and addresses, broker properties, the pod env.

No Pulumi here: config validation (config.py) checks overrides against `broker_properties`, the
components (kafka.py) place `kafka_env` into the StatefulSet, and the tests read it back.

Why every replication setting is explicit: cp-kafka builds server.properties from `KAFKA_*`
variables only, so anything not set falls back to Kafka's code defaults: replication factor 3 for
`__consumer_offsets` and `__transaction_state`, which a one-broker cluster cannot create
("InvalidReplicationFactorException: Replication factor: 3 larger than available brokers: 1").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Union

if TYPE_CHECKING:
    from .config import Kafka as KafkaConfig

KAFKA_PORT = 9092
ZOOKEEPER_CLIENT_PORT = 2181
ZOOKEEPER_PEER_PORT = 2888
ZOOKEEPER_ELECTION_PORT = 3888


def replication_factor(brokers: int) -> int:
    return min(3, brokers)


def min_insync_replicas(brokers: int) -> int:
    # With 1-2 brokers a min ISR of 2 would block every write while one broker restarts.
    return 1 if brokers <= 2 else 2


def broker_properties(brokers: int, overrides: Mapping[str, Union[bool, int, float, str]]) -> dict[str, str]:
    """Effective cluster-wide broker properties: derived from the broker count, then overrides."""
    rf = str(replication_factor(brokers))
    isr = str(min_insync_replicas(brokers))
    props = {
        "offsets.topic.replication.factor": rf,
        "transaction.state.log.replication.factor": rf,
        "default.replication.factor": rf,
        "transaction.state.log.min.isr": isr,
        "min.insync.replicas": isr,
    }
    for key, value in overrides.items():
        props[key] = _property_text(value)
    return dict(sorted(props.items()))


def _property_text(value: Union[bool, int, float, str]) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def kafka_env_name(prop: str) -> str:
    """cp-kafka's mapping of a property to its variable: `_`->`__`, `-`->`___`, `.`->`_`, upper, KAFKA_."""
    return "KAFKA_" + prop.replace("_", "__").replace("-", "___").replace(".", "_").upper()


def property_from_env_name(name: str) -> str:
    """The inverse mapping, as cp-kafka's env_to_props applies it (used by tests to read env back)."""
    body = name[len("KAFKA_"):].lower()
    return body.replace("___", "\0").replace("__", "\1").replace("_", ".").replace("\0", "-").replace("\1", "_")


@dataclass(frozen=True)
class KafkaNames:
    """Object names and in-cluster addresses, one place for every consumer (Spring, kafka-ui)."""

    namespace: str
    cluster_domain: str
    zookeeper: str = "zookeeper"
    zookeeper_headless: str = "zookeeper-headless"
    kafka: str = "kafka"
    kafka_headless: str = "kafka-headless"
    # Not "kafka": a Service of that name injects KAFKA_PORT into pods that do not switch links off.
    bootstrap: str = "kafka-bootstrap"
    ui: str = "kafka-ui"
    # Day-two Jobs around a broker-count change (kafka_jobs.py).
    drain: str = "kafka-drain"
    rebalance: str = "kafka-rebalance"

    @property
    def services(self) -> tuple[str, ...]:
        """Every Service the Kafka components create (their names are taken in the namespace)."""
        return (self.zookeeper, self.zookeeper_headless, self.kafka_headless, self.bootstrap, self.ui)

    def fqdn(self, service: str) -> str:
        return f"{service}.{self.namespace}.svc.{self.cluster_domain}"

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.fqdn(self.bootstrap)}:{KAFKA_PORT}"

    @property
    def zookeeper_connect(self) -> str:
        return f"{self.fqdn(self.zookeeper)}:{ZOOKEEPER_CLIENT_PORT}"

    def broker_advertised_listener(self, pod_name: str) -> str:
        # Each broker advertises its own pod DNS name: clients resolve it through the headless Service.
        return f"PLAINTEXT://{pod_name}.{self.kafka_headless}.{self.namespace}.svc.{self.cluster_domain}:{KAFKA_PORT}"

    def zookeeper_servers(self, replicas: int) -> str:
        return ";".join(
            f"{self.zookeeper}-{i}.{self.zookeeper_headless}.{self.namespace}.svc.{self.cluster_domain}"
            f":{ZOOKEEPER_PEER_PORT}:{ZOOKEEPER_ELECTION_PORT}"
            for i in range(replicas)
        )


def kafka_env(cfg: KafkaConfig, names: KafkaNames) -> dict[str, str]:
    """Every KAFKA_* variable of a broker pod except the per-pod ones set by the start command."""
    env = {
        "KAFKA_ZOOKEEPER_CONNECT": names.zookeeper_connect,
        "KAFKA_LISTENERS": f"PLAINTEXT://0.0.0.0:{KAFKA_PORT}",
        # $(POD_NAME) is expanded by the kubelet from the env var declared before this one.
        "KAFKA_ADVERTISED_LISTENERS": names.broker_advertised_listener("$(POD_NAME)"),
        # A sub-folder: a fresh volume's lost+found would otherwise make the broker refuse the dir.
        "KAFKA_LOG_DIRS": "/var/lib/kafka/data/logs",
        "KAFKA_HEAP_OPTS": f"-Xms{cfg.heap} -Xmx{cfg.heap}",
    }
    for prop, value in broker_properties(cfg.brokers, cfg.overrides).items():
        env[kafka_env_name(prop)] = value
    return env
