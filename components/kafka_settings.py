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


# Confluent Server (cp-server) creates topics of its own (`_confluent-license`, `_confluent-metrics`,
# `_confluent-balancer-*`, audit log, cluster-link metadata) with replication factor 3 by default;
# cp-all-in-one's single-broker compose sets the first three to 1. The Jobs treat `_confluent*` topics
# like any other topic (drain lowers, rebalance raises to default.replication.factor).
CONFLUENT_SERVER_RF_KEYS = (
    "confluent.license.topic.replication.factor",
    "confluent.balancer.topic.replication.factor",
    "confluent.metrics.reporter.topic.replicas",
    "confluent.security.event.logger.exporter.kafka.topic.replicas",
    "confluent.cluster.link.metadata.topic.replication.factor",
)


def is_confluent_server(image: str) -> bool:
    """cp-server (Confluent Server) rather than the community cp-kafka: its repository's last path part."""
    repository = image.split("@", 1)[0]
    if ":" in repository.rsplit("/", 1)[-1]:
        repository = repository.rsplit(":", 1)[0]
    return repository.rsplit("/", 1)[-1] == "cp-server"


def broker_properties(brokers: int, overrides: Mapping[str, Union[bool, int, float, str]],
                      confluent_server: bool = False) -> dict[str, str]:
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
    if confluent_server:
        props.update({key: rf for key in CONFLUENT_SERVER_RF_KEYS})
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
    zookeeper_shrink: str = "zookeeper-shrink"

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

    def zookeeper_member_host(self, ordinal: str) -> str:
        return f"{self.zookeeper}-{ordinal}.{self.zookeeper_headless}.{self.namespace}.svc.{self.cluster_domain}"

    @property
    def zookeeper_self_template(self) -> str:
        """A member's own server address as ZooKeeper's dynamic config writes it (host:peer:election;client);
        the start script puts the pod's ordinal in place of `{ordinal}`."""
        return f"{self.zookeeper_member_host('{ordinal}')}:{ZOOKEEPER_PEER_PORT}:{ZOOKEEPER_ELECTION_PORT};{ZOOKEEPER_CLIENT_PORT}"

    def zookeeper_members_connect(self, replicas: int) -> str:
        """Every member's client address: a broker's ZooKeeper client fails over between them by itself,
        without depending on the client Service's view of which members are ready."""
        return ",".join(f"{self.zookeeper_member_host(str(i))}:{ZOOKEEPER_CLIENT_PORT}" for i in range(replicas))


def kafka_env(cfg: KafkaConfig, names: KafkaNames) -> dict[str, str]:
    """Every KAFKA_* variable of a broker pod except the per-pod ones set by the start command."""
    env = {
        "KAFKA_ZOOKEEPER_CONNECT": names.zookeeper_members_connect(cfg.zookeeper_replicas),
        "KAFKA_LISTENERS": f"PLAINTEXT://0.0.0.0:{KAFKA_PORT}",
        # $(POD_NAME) is expanded by the kubelet from the env var declared before this one.
        "KAFKA_ADVERTISED_LISTENERS": names.broker_advertised_listener("$(POD_NAME)"),
        # A sub-folder: a fresh volume's lost+found would otherwise make the broker refuse the dir.
        "KAFKA_LOG_DIRS": "/var/lib/kafka/data/logs",
        "KAFKA_HEAP_OPTS": f"-Xms{cfg.heap} -Xmx{cfg.heap}",
    }
    for prop, value in broker_properties(cfg.brokers, cfg.overrides, is_confluent_server(cfg.image)).items():
        env[kafka_env_name(prop)] = value
    return env
