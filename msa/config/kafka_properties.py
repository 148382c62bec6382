"""The cluster-wide broker properties msa:kafka means: derived from the broker count, then overrides.

Pure and part of the config layer: validation checks `kafka.overrides` against the values they are
merged into, and the Kafka components (msa.kafka.settings), the Jobs and the verification spec all
read the same effective properties from here.

Why every replication setting is explicit: cp-kafka builds server.properties from `KAFKA_*`
variables only, so anything not set falls back to Kafka's code defaults: replication factor 3 for
`__consumer_offsets` and `__transaction_state`, which a one-broker cluster cannot create
("InvalidReplicationFactorException: Replication factor: 3 larger than available brokers: 1").
"""

from __future__ import annotations

from typing import Mapping, Union


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
