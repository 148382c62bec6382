"""Authentication in KRaft mode (msa:kafka.authentication: sasl with mode: kraft): who logs in where.

Three listeners, none open:
- `SCRAM` (9094, SASL/SCRAM-SHA-512): clients and the brokers among themselves, as in ZooKeeper mode
  (broker_auth.SCRAM_ONLY's listener variables). The credentials live in the cluster's metadata, which
  the controllers serve: before the quorum runs nobody can write one through a broker, so the users
  the brokers need to start (`broker`) and the Jobs need to write the others (`admin`) are written at
  format time (KIP-900: `kafka-storage format --add-scram`, the bootstrap checkpoint the first active
  controller replays). Every other user is written afterwards by the kafka-scram-users Job, logged in
  as `admin`, through --bootstrap-server (AlterUserScramCredentials).
- `CONTROLLER` (9093): SCRAM cannot authenticate it (a controller would need the metadata it has not
  read yet to check a login), so it runs SASL/PLAIN over SASL_PLAINTEXT with one user, `controller`,
  whose password derives from the seed like every other. Brokers and controllers carry the same JAAS
  line (client side: username/password; server side: user_controller), set as
  `listener.name.controller.plain.sasl.jaas.config` from a Secret; `sasl.mechanism.controller.protocol=PLAIN`.
- The readiness probe logs in to both: SCRAM as `broker` (its client.properties), PLAIN as `controller`
  (parsed from the pod's JAAS env: kafka_ready.py).

Passwords reach a pod only as env *from* a Secret (secretKeyRef); the rendered spec names the Secret and
key, never a value. The format step runs inside the pod (kraft.KRAFT_FORMAT_SCRAM), so the bootstrap
passwords sit in that one process's arguments, in the pod's own process namespace, once per fresh volume.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from .. import k8s as kx
from ..names import (
    CONTROLLER_LISTENER, KAFKA_ADMIN_USER, KAFKA_BROKER_USER, KAFKA_CONTROLLER_LOGIN_SECRET, KAFKA_CONTROLLER_MECHANISM,
    KAFKA_CONTROLLER_USER, KAFKA_PLAINTEXT_LISTENER, KAFKA_SCRAM_LISTENER,
)
from .broker_auth import scram_protocol
from .client_auth import CLIENT_CONFIG_DIR
from .tls_settings import truststore_file_properties
from .credentials import kafka_user_secret, user_password

PLAIN_LOGIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"
JAAS_KEY = "sasl.jaas.config"
# cp-kafka's env names (settings.kafka_env_name) of the controller listener's SASL settings.
CONTROLLER_JAAS_ENV = f"KAFKA_LISTENER_NAME_{CONTROLLER_LISTENER}_{KAFKA_CONTROLLER_MECHANISM}_SASL_JAAS_CONFIG"
# The passwords the format step writes as SCRAM credentials (kraft.KRAFT_FORMAT_SCRAM reads them).
FORMAT_PASSWORD_ENV = {KAFKA_BROKER_USER: "MSA_FORMAT_BROKER_PASSWORD", KAFKA_ADMIN_USER: "MSA_FORMAT_ADMIN_PASSWORD"}
BOOTSTRAP_USERS = tuple(FORMAT_PASSWORD_ENV)


def controller_jaas_config(password: str) -> str:
    """The controller listener's JAAS line: the login every node makes to a controller, and the one user a
    controller accepts (derived passwords hold no quote or backslash)."""
    return (f'{PLAIN_LOGIN_MODULE} required username="{KAFKA_CONTROLLER_USER}" password="{password}" '
            f'user_{KAFKA_CONTROLLER_USER}="{password}";')


def protocol_map(sasl: bool, tls: bool = False) -> str:
    """listener.security.protocol.map of a KRaft node: every listener it may name (unused ones cost nothing)."""
    if not sasl:
        return f"{KAFKA_PLAINTEXT_LISTENER}:PLAINTEXT,{CONTROLLER_LISTENER}:PLAINTEXT"
    return (f"{KAFKA_PLAINTEXT_LISTENER}:PLAINTEXT,{KAFKA_SCRAM_LISTENER}:{scram_protocol(tls)},"
            f"{CONTROLLER_LISTENER}:SASL_PLAINTEXT")


def controller_sasl_env() -> dict[str, str]:
    """The controller listener's SASL settings that are not secret (brokers and controllers alike)."""
    return {
        "KAFKA_SASL_MECHANISM_CONTROLLER_PROTOCOL": KAFKA_CONTROLLER_MECHANISM,
        # Per listener: the SCRAM listener keeps sasl.enabled.mechanisms=SCRAM-SHA-512.
        f"KAFKA_LISTENER_NAME_{CONTROLLER_LISTENER}_SASL_ENABLED_MECHANISMS": KAFKA_CONTROLLER_MECHANISM,
    }


def _secret_env(variable: str, secret: k8s.core.v1.Secret, key: str) -> k8s.core.v1.EnvVarArgs:
    return k8s.core.v1.EnvVarArgs(name=variable, value_from=k8s.core.v1.EnvVarSourceArgs(
        secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=secret.metadata.name, key=key)))


@dataclass(frozen=True)
class KraftLogin:
    """The Secret-sourced env of KRaft pods: every node's controller login, and the controllers' format-time users."""

    controller_secret: k8s.core.v1.Secret
    user_secrets: dict          # user -> Secret (kafka-user-<user>) of the users written at format time
    tls: bool = False           # msa:kafka.tls: the broker user's Secret carries the CA (ca.crt) its probe trusts

    @property
    def controller_env(self) -> tuple[k8s.core.v1.EnvVarArgs, ...]:
        return (_secret_env(CONTROLLER_JAAS_ENV, self.controller_secret, JAAS_KEY),)

    @property
    def format_env(self) -> tuple[k8s.core.v1.EnvVarArgs, ...]:
        """What a node that may form the quorum formats its storage with (kraft.KRAFT_FORMAT_SCRAM)."""
        return tuple(_secret_env(FORMAT_PASSWORD_ENV[user], self.user_secrets[user], "password") for user in BOOTSTRAP_USERS)

    @property
    def waits_for(self) -> tuple[pulumi.Resource, ...]:
        return (self.controller_secret, *self.user_secrets.values())


def controller_login_secret(seed: pulumi.Input[str], namespace: str, opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret:
    """The controller user's JAAS line (kafka-controller-login-<hash>): auto-named and immutable like the
    users' Secrets, so a new password is a new Secret name in the pods' spec."""
    name = KAFKA_CONTROLLER_LOGIN_SECRET
    jaas = user_password(seed, KAFKA_CONTROLLER_USER).apply(lambda password: {JAAS_KEY: controller_jaas_config(password)})
    return k8s.core.v1.Secret(
        name,
        metadata=kx.metadata(name, namespace, "kafka", autonamed=True),
        immutable=True,
        string_data=pulumi.Output.secret(jaas),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["data", "stringData"])),
    )


def kraft_login(seed: Optional[pulumi.Input[str]], namespace: str, admin: Optional[k8s.core.v1.Secret],
                opts: pulumi.ResourceOptions, ca_certificate: str = "") -> KraftLogin:
    """The controller login Secret and the broker user's Secret (which the broker pods log in with as in
    ZooKeeper mode), with `admin`'s (client_auth.kafka_client_secrets): the format-time users' Secrets.
    `ca_certificate`: with msa:kafka.tls, the CA the brokers' readiness probe trusts (beside its client.properties)."""
    if seed is None:
        raise ValueError("KRaft authentication without msa:kafkaAuthSecret (config.check_secrets_present stops this earlier)")
    if admin is None:
        raise ValueError(f"KRaft authentication without the {KAFKA_ADMIN_USER} user's Secret (client_auth.kafka_client_users lists it)")
    broker = kafka_user_secret(KAFKA_BROKER_USER, seed, namespace, "kafka", opts, security_protocol=scram_protocol(bool(ca_certificate)),
                               trust=truststore_file_properties(CLIENT_CONFIG_DIR) if ca_certificate else None, ca_certificate=ca_certificate)
    return KraftLogin(controller_login_secret(seed, namespace, opts), {KAFKA_BROKER_USER: broker, KAFKA_ADMIN_USER: admin},
                      tls=bool(ca_certificate))
