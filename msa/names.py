"""Every fixed object name, reserved name and port that the config layer must know as well as the
components that create the objects.

One floor below config: config refuses a service named like one of these objects
(`reserved_names`) and plans the Services' addresses with `KafkaNames`, while the components name
their objects with the same constants. Imports nothing of msa.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

KAFKA_PORT = 9092                       # the PLAINTEXT listener's
# KRaft: the controllers' listener (the quorum's Raft traffic and the brokers' registrations/heartbeats).
CONTROLLER_PORT = 9093
CONTROLLER_LISTENER = "CONTROLLER"
# KRaft node ids: brokers keep their pod ordinal (the broker ids the Jobs and the migration from
# ZooKeeper know), dedicated controllers are 100 + their ordinal, out of the brokers' range (at most 9).
CONTROLLER_ID_BASE = 100
# Kafka's listeners (issue 17). `PLAINTEXT` on 9092 is the open cluster's (msa:kafka.authentication: none)
# and stays up only while a running cluster moves to authentication; `SCRAM` (SASL/SCRAM-SHA-512 over
# SASL_PLAINTEXT, SASL_SSL with msa:kafka.tls) is the only listener of an authenticated cluster, for
# clients and between brokers alike.
#
# Why SCRAM gets a port of its own instead of taking over 9092: Kafka's order for securing a running
# cluster (add the SASL listener, switch the clients, switch inter-broker traffic, drop PLAINTEXT) needs
# both listeners side by side for two rolls, each on its own port. Were SCRAM to take 9092, PLAINTEXT
# would first have to move away in a roll of its own, during which an open client that bootstraps
# through the Service lands on a broker whose 9092 already speaks SASL and fails until it retries
# elsewhere. On 9094 every phase keeps each listener where it was: open clients see no change at all
# until they switch, and switching is one setting (bootstrap host and ClusterIP stay, the port is
# KafkaNames.bootstrap_servers'). The name is not SASL_PLAINTEXT/SASL_SSL on purpose: cp-kafka's
# configure script keys on those names (it then demands a JAAS file in KAFKA_OPTS, or keystore files
# under /etc/kafka/secrets for *SSL://); a listener named SCRAM takes all its security settings from
# listener-prefixed properties, which the pods get from Secrets.
KAFKA_PLAINTEXT_LISTENER = "PLAINTEXT"
KAFKA_SCRAM_PORT = 9094           # not 9093: KRaft's controller listener on combined pods
KAFKA_SCRAM_LISTENER = "SCRAM"
KAFKA_SCRAM_MECHANISM = "SCRAM-SHA-512"
ZOOKEEPER_CLIENT_PORT = 2181
ZOOKEEPER_PEER_PORT = 2888
ZOOKEEPER_ELECTION_PORT = 3888

# Users (issue 17). Every password derives from msa:kafkaAuthSecret (msa/kafka/credentials.py).
ZOOKEEPER_SUPER_USER = "super"      # ZooKeeper digest superuser: reconfig (member start script) and the shrink Job
ZOOKEEPER_KAFKA_USER = "kafka"      # the brokers' SASL DIGEST-MD5 login to ZooKeeper
KAFKA_BROKER_USER = "broker"        # SCRAM-SHA-512: inter-broker
KAFKA_ADMIN_USER = "admin"          # SCRAM-SHA-512: the day-2 Jobs and the verification Job
KAFKA_UI_USER = "kafka-ui"          # SCRAM-SHA-512: kafka-ui (each Spring service with kafka: true logs in as its own name)
# KRaft: the controller listener's SASL/PLAIN user (SCRAM cannot authenticate controllers: their credentials
# live in the metadata the controllers serve). Brokers and controllers log in as it; nothing else does.
KAFKA_CONTROLLER_USER = "controller"
KAFKA_CONTROLLER_MECHANISM = "PLAIN"
KAFKA_CONTROLLER_LOGIN_SECRET = "kafka-controller-login"  # its JAAS line: kafka-controller-login-<hash>
KAFKA_USER_SECRET_PREFIX = "kafka-user-"  # content-named Secret per consumer: kafka-user-<user>-<hash>
KAFKA_SCRAM_USERS = "kafka-scram-users"   # the Job that writes every SCRAM user, and its users Secret
ZOOKEEPER_AUTH_SECRET = "zookeeper-auth"          # ZooKeeper's super user and SASL users: zookeeper-auth-<hash>
ZOOKEEPER_LOGIN_SECRET = "kafka-zookeeper-login"  # the brokers' JAAS login to ZooKeeper: kafka-zookeeper-login-<hash>

# Objects outside the Kafka domain whose names are fixed (some get a content hash appended: autonamed).
PULL_SECRET = "harbor-pull"            # images: the Harbor pull Secret
UI_AUTH_SUFFIX = "-auth"               # kafka: kafka-ui's login Secret, kafka-ui-auth-<hash>
DEFAULT_DENY = "default-deny-ingress"  # network: the NetworkPolicy that denies every ingress
CONFIG_REPO_MAP = "config-repo"        # spring: the config server's repository ConfigMap
VERIFY_JOB = "verify"                  # verify: the verification Job, its ServiceAccount, Role and ConfigMap


@dataclass(frozen=True)
class KafkaNames:
    """Object names and in-cluster addresses, one place for every consumer (Spring, kafka-ui)."""

    namespace: str
    cluster_domain: str
    # msa:kafka.authentication: sasl -> clients and brokers use the SCRAM listener (not a name: a bool).
    sasl: bool = False
    zookeeper: str = "zookeeper"
    zookeeper_headless: str = "zookeeper-headless"
    kafka: str = "kafka"
    kafka_headless: str = "kafka-headless"
    # Not "kafka": a Service of that name injects KAFKA_PORT into pods that do not switch links off.
    bootstrap: str = "kafka-bootstrap"
    ui: str = "kafka-ui"
    # Day-two Jobs around a broker-count change (kafka/jobs.py).
    drain: str = "kafka-drain"
    rebalance: str = "kafka-rebalance"
    zookeeper_shrink: str = "zookeeper-shrink"
    zookeeper_acl_migration: str = "zookeeper-acl-migration"
    # KRaft with dedicated controllers (msa:kafka.combined: false): their StatefulSet and per-pod DNS.
    controller: str = "kafka-controller"
    controller_headless: str = "kafka-controller-headless"
    # The ZooKeeper -> KRaft migration's Jobs (kafka/migration_job.py): before and after a step's rolls.
    migration_gate: str = "kafka-migration-gate"
    migration_check: str = "kafka-migration-check"

    @property
    def services(self) -> tuple[str, ...]:
        """Every Service the Kafka components may create (their names are taken in the namespace)."""
        return (self.zookeeper, self.zookeeper_headless, self.kafka_headless, self.bootstrap, self.ui, self.controller_headless)

    def fqdn(self, service: str) -> str:
        return f"{service}.{self.namespace}.svc.{self.cluster_domain}"

    @property
    def client_listener(self) -> str:
        return KAFKA_SCRAM_LISTENER if self.sasl else KAFKA_PLAINTEXT_LISTENER

    @property
    def client_port(self) -> int:
        return KAFKA_SCRAM_PORT if self.sasl else KAFKA_PORT

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.fqdn(self.bootstrap)}:{self.client_port}"

    @property
    def zookeeper_connect(self) -> str:
        return f"{self.fqdn(self.zookeeper)}:{ZOOKEEPER_CLIENT_PORT}"

    def broker_advertised_listener(self, pod_name: str, listener: str = "") -> str:
        # Each broker advertises its own pod DNS name: clients resolve it through the headless Service.
        listener = listener or self.client_listener
        port = KAFKA_SCRAM_PORT if listener == KAFKA_SCRAM_LISTENER else KAFKA_PORT
        return f"{listener}://{pod_name}.{self.kafka_headless}.{self.namespace}.svc.{self.cluster_domain}:{port}"

    def broker_host(self, ordinal: str) -> str:
        return f"{self.kafka}-{ordinal}.{self.kafka_headless}.{self.namespace}.svc.{self.cluster_domain}"

    def controller_host(self, ordinal: str) -> str:
        """A dedicated KRaft controller pod's DNS name (through its headless Service)."""
        return f"{self.controller}-{ordinal}.{self.controller_headless}.{self.namespace}.svc.{self.cluster_domain}"

    def quorum_voters(self, controllers: int, combined: bool) -> str:
        """KRaft's `controller.quorum.voters`: `id@host:port` of each voter. Combined: broker pods
        0..controllers-1 (node id = ordinal); dedicated: the controller pods (node id = 100 + ordinal)."""
        if combined:
            return ",".join(f"{i}@{self.broker_host(str(i))}:{CONTROLLER_PORT}" for i in range(controllers))
        return ",".join(f"{CONTROLLER_ID_BASE + i}@{self.controller_host(str(i))}:{CONTROLLER_PORT}" for i in range(controllers))

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


# The one-up move to authentication (kafka/auth_roll.py): ServiceAccount/Role, its Jobs and the phase ConfigMap.
KAFKA_AUTH_ROLL_NAMES = ("kafka-auth", "kafka-auth-begin", "kafka-auth-roll", "kafka-auth-finish", "kafka-auth-phase")


def reserved_names() -> tuple[str, ...]:
    """Object names the stack creates for itself: a service of that name would share their labels
    (its Deployment would select the brokers' pods) or names."""
    kafka = {f.name: f.default for f in dataclasses.fields(KafkaNames) if isinstance(f.default, str)}
    return tuple(sorted({*kafka.values(), kafka["ui"] + UI_AUTH_SUFFIX, PULL_SECRET, CONFIG_REPO_MAP, VERIFY_JOB, DEFAULT_DENY,
                         ZOOKEEPER_AUTH_SECRET, ZOOKEEPER_LOGIN_SECRET, KAFKA_CONTROLLER_LOGIN_SECRET, KAFKA_SCRAM_USERS,
                         *(KAFKA_USER_SECRET_PREFIX + user for user in (KAFKA_BROKER_USER, KAFKA_ADMIN_USER, KAFKA_UI_USER)),
                         *KAFKA_AUTH_ROLL_NAMES}))
