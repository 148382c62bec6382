"""How every Kafka client of the stack logs in (msa:kafka.authentication: sasl): Spring services,
kafka-ui, the day-2 Jobs and the verification Job.

Each client is one SCRAM-SHA-512 user with its own Secret (credentials.kafka_user_secret); a pod
references only its own. The password reaches a client in one of two shapes, never through a
ConfigMap, an env value in the spec or the rendered YAML:
- the JAAS line as an env var *from* the Secret (secretKeyRef): Spring services and kafka-ui, whose
  Spring Boot binds `SPRING_KAFKA_PROPERTIES_SASL_JAAS_CONFIG` / `KAFKA_CLUSTERS_0_PROPERTIES_SASL_JAAS_CONFIG`
  to the clients' `sasl.jaas.config`;
- `client.properties` as a read-only file: the Kafka CLI tools' `--command-config` (and its per-tool
  spellings) in the Jobs.
What is not secret (protocol, mechanism) travels with the rest of the settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from ..config import Kafka as KafkaConfig
from ..config import StackConfig
from ..names import KAFKA_ADMIN_USER, KAFKA_UI_USER
from .broker_auth import scram_protocol
from .credentials import SCRAM_MECHANISM, kafka_user_secret
from .tls_settings import CLIENT_CA_KEY, truststore_file_properties

# The Secret's keys (credentials.user_secret_data).
JAAS_KEY = "sasl.jaas.config"
PROPERTIES_KEY = "client.properties"
# Where a Job finds its user's client.properties, and the env var that tells its scripts.
CLIENT_CONFIG_DIR = "/etc/kafka-client"
CLIENT_CONFIG = f"{CLIENT_CONFIG_DIR}/{PROPERTIES_KEY}"
CLIENT_CONFIG_ENV = "KAFKA_CLIENT_CONFIG"
# Spring Boot's relaxed binding of spring.kafka.properties[sasl.jaas.config] from the environment.
SPRING_JAAS_ENV = "SPRING_KAFKA_PROPERTIES_SASL_JAAS_CONFIG"
UI_JAAS_ENV = "KAFKA_CLUSTERS_0_PROPERTIES_SASL_JAAS_CONFIG"


def security_protocol(kafka: KafkaConfig) -> Optional[str]:
    """The clients' security.protocol, or None for an open cluster (clients keep Kafka's PLAINTEXT default)."""
    return scram_protocol(kafka.tls) if kafka.authentication == "sasl" else None


def client_settings(kafka: KafkaConfig) -> dict[str, str]:
    """The non-secret client properties (Kafka's names): protocol and mechanism; empty when open."""
    protocol = security_protocol(kafka)
    return {"security.protocol": protocol, "sasl.mechanism": SCRAM_MECHANISM} if protocol else {}


@dataclass(frozen=True)
class ClientSecret:
    """One Kafka user's Secret as the pods that log in with it reference it."""

    user: str
    secret: k8s.core.v1.Secret
    tls: bool = False         # msa:kafka.tls: the Secret carries the CA (ca.crt) the client.properties points at

    @property
    def name(self) -> pulumi.Output[str]:
        # Auto-named (kafka-user-<user>-<hash>): a new password is a new Secret and a rollout.
        return self.secret.metadata.name

    def jaas_env(self, variable: str) -> k8s.core.v1.EnvVarArgs:
        """`variable` = the JAAS line, read by the kubelet from the Secret (the spec holds only the reference)."""
        return k8s.core.v1.EnvVarArgs(name=variable, value_from=k8s.core.v1.EnvVarSourceArgs(
            secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=self.name, key=JAAS_KEY)))

    def config_volume(self, volume: str = "kafka-client") -> k8s.core.v1.VolumeArgs:
        """client.properties alone (not the bare password), and with TLS the CA it trusts, readable by the pod's group only."""
        files = [PROPERTIES_KEY, *([CLIENT_CA_KEY] if self.tls else [])]
        return k8s.core.v1.VolumeArgs(name=volume, secret=k8s.core.v1.SecretVolumeSourceArgs(
            secret_name=self.name, default_mode=0o440, items=[k8s.core.v1.KeyToPathArgs(key=f, path=f) for f in files]))

    @staticmethod
    def config_mount(volume: str = "kafka-client") -> k8s.core.v1.VolumeMountArgs:
        return k8s.core.v1.VolumeMountArgs(name=volume, mount_path=CLIENT_CONFIG_DIR, read_only=True)


def kafka_client_users(cfg: StackConfig) -> list[str]:
    """Every Kafka user a client of the stack logs in as (none for an open cluster): the admin user of the
    day-2 and verification Jobs, kafka-ui's, and one per Spring service with `kafka: true`, named after it."""
    if not security_protocol(cfg.kafka):
        return []
    users = [KAFKA_ADMIN_USER]
    if cfg.kafka.ui.enabled:
        users.append(KAFKA_UI_USER)
    return users + [name for name, svc in cfg.services.items() if svc.kafka]


def client_trust(kafka: KafkaConfig, ca_certificate: str = "", folder: str = CLIENT_CONFIG_DIR) -> tuple[dict[str, str], str]:
    """(client.properties trust settings, the CA file's text) of a Secret mounted at `folder`; nothing without TLS."""
    if not kafka.tls:
        return {}, ""
    return truststore_file_properties(folder), ca_certificate


def kafka_client_secrets(cfg: StackConfig, seed: pulumi.Input[str], opts: pulumi.ResourceOptions,
                         ca_certificate: str = "") -> dict[str, ClientSecret]:
    """The clients' Secrets by user (component: client_auth.kafka_client_users). With msa:kafka.tls each
    also carries the CA certificate (`ca.crt`) its client.properties trusts."""
    trust, ca = client_trust(cfg.kafka, ca_certificate)
    return {user: ClientSecret(user, kafka_user_secret(user, seed, cfg.namespace, "kafka-client", opts,
                                                       security_protocol=security_protocol(cfg.kafka), trust=trust, ca_certificate=ca),
                               cfg.kafka.tls)
            for user in kafka_client_users(cfg)}
