"""The brokers' side of SCRAM-SHA-512 (msa:kafka.authentication: sasl): their own login, and every
user's credential in ZooKeeper before a broker or client needs it.

- `scram_users`: who logs in (pure): the brokers among themselves (`broker`), the day-2 and
  verification Jobs (`admin`), kafka-ui, and each Spring service with `kafka` under its own name.
- `BrokerScram`: what a broker pod gets: its JAAS line as an env var *from* the broker user's Secret
  (broker_auth.BROKER_JAAS_ENV), its client.properties as a read-only file for the readiness probe,
  and nothing secret in the spec.
- the kafka-scram-users Job (scripts/kafka-scram-users.sh) writes every user's credential with
  `kafka-configs --zookeeper`; its passwords come from a Secret only that Job mounts. The Secret is
  content-named, so a changed password is a new Secret name, a new Job spec, and the Job runs again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from .. import k8s as kx
from ..config import StackConfig
from ..names import KAFKA_BROKER_USER, KAFKA_SCRAM_USERS, KafkaNames
from .broker_auth import BROKER_JAAS_ENV, scram_protocol
from .client_auth import kafka_client_users
from .credentials import derived_password, kafka_user_secret
from .tls_settings import CLIENT_CA_KEY, truststore_file_properties

SCRAM_USERS_JOB = KAFKA_SCRAM_USERS
USERS_DIR = "/etc/msa/kafka-scram-users"
# The broker user's client.properties, for the readiness probe's own SCRAM login.
PROBE_CONFIG_DIR = "/etc/kafka-client"
PROBE_CONFIG = f"{PROBE_CONFIG_DIR}/client.properties"
SCRIPT = Path(__file__).resolve().parent / "scripts" / "kafka-scram-users.sh"


def scram_users(cfg: StackConfig) -> list[str]:
    """Every SCRAM user of the stack (none for an open cluster), the brokers' own first."""
    clients = kafka_client_users(cfg)       # [] for an open cluster
    return [KAFKA_BROKER_USER, *clients] if clients else []


def users_secret_data(seed: str, users: list[str]) -> dict[str, str]:
    """user -> derived password: the kafka-scram-users Job's only input that is secret."""
    return {user: derived_password(seed, user) for user in users}


def scram_users_script() -> str:
    return SCRIPT.read_text()


def scram_users_env(names: KafkaNames) -> dict[str, str]:
    # The client Service: whichever members are ready (the Job runs before the brokers change).
    return {"ZOOKEEPER_CONNECT": names.zookeeper_connect, "USERS_DIR": USERS_DIR}


@dataclass(frozen=True)
class BrokerScram:
    """What the broker pods and the Jobs around them need for SCRAM."""

    env: tuple            # EnvVarArgs of the broker container (the JAAS line from the Secret)
    volumes: tuple        # VolumeArgs of the broker pod
    mounts: tuple         # VolumeMountArgs of the broker container
    users_job: k8s.batch.v1.Job
    waits_for: tuple      # what the StatefulSet waits for: the Secret and the users' credentials


def users_secret(name: str, namespace: str, seed: pulumi.Input[str], users: list[str], opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret:
    """user -> derived password, mounted by the kafka-scram-users Job only (auto-named, immutable)."""
    return k8s.core.v1.Secret(
        name,
        metadata=kx.metadata(name, namespace, "kafka-admin", autonamed=True),
        immutable=True,
        string_data=pulumi.Output.secret(pulumi.Output.from_input(seed).apply(lambda s: users_secret_data(s, users))),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["data", "stringData"])),
    )


def users_volume(secret: k8s.core.v1.Secret) -> tuple[k8s.core.v1.VolumeArgs, k8s.core.v1.VolumeMountArgs]:
    return (
        k8s.core.v1.VolumeArgs(name="users", secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=secret.metadata.name, default_mode=0o440)),
        k8s.core.v1.VolumeMountArgs(name="users", mount_path=USERS_DIR, read_only=True),
    )


def broker_login(broker: k8s.core.v1.Secret, with_ca: bool = False) -> tuple[tuple, tuple, tuple]:
    """(env, volumes, mounts) of a broker container logging in as the broker user of Secret `broker`: its JAAS
    line for the SCRAM listener, its client.properties for the readiness probe (and with TLS the CA it trusts)."""
    jaas = k8s.core.v1.EnvVarArgs(name=BROKER_JAAS_ENV, value_from=k8s.core.v1.EnvVarSourceArgs(
        secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=broker.metadata.name, key="sasl.jaas.config")))
    probe_volume = k8s.core.v1.VolumeArgs(name="kafka-client", secret=k8s.core.v1.SecretVolumeSourceArgs(
        secret_name=broker.metadata.name, default_mode=0o440,
        items=[k8s.core.v1.KeyToPathArgs(key=f, path=f) for f in ("client.properties", *((CLIENT_CA_KEY,) if with_ca else ()))]))
    probe_mount = k8s.core.v1.VolumeMountArgs(name="kafka-client", mount_path=PROBE_CONFIG_DIR, read_only=True)
    return (jaas,), (probe_volume,), (probe_mount,)


def broker_scram(users: list[str], names: KafkaNames, seed: pulumi.Input[str], image: kx.PodImage, job_options: dict,
                 opts: pulumi.ResourceOptions, zookeeper_login: tuple = ((), ()), ca_certificate: str = "") -> BrokerScram:
    """The broker user's Secret, the users' Secret and the kafka-scram-users Job. `job_options`: the
    keyword arguments every Kafka admin Job gets (security context, annotations, pull secrets).
    `zookeeper_login`: (env dict, (volume, mount) pairs) of the ZooKeeper login when ZooKeeper enforces ACLs.
    `ca_certificate`: with msa:kafka.tls, the CA the readiness probe trusts (beside its client.properties)."""
    ns = names.namespace
    trust = truststore_file_properties(PROBE_CONFIG_DIR) if ca_certificate else {}
    broker = kafka_user_secret(KAFKA_BROKER_USER, seed, ns, "kafka", opts, security_protocol=scram_protocol(bool(ca_certificate)),
                               trust=trust, ca_certificate=ca_certificate)
    name = SCRAM_USERS_JOB
    secret = users_secret(name, ns, seed, users, opts)
    zk_env, zk_volumes = zookeeper_login
    job = kx.script_job(
        name, ns, "kafka-admin", image.ref, scram_users_script(), {**scram_users_env(names), **dict(zk_env)},
        kx.waiting_for(opts, (secret,)), timeout_seconds=300, volumes=(users_volume(secret), *zk_volumes), **job_options,
    )
    env, volumes, mounts = broker_login(broker, bool(ca_certificate))
    return BrokerScram(env, volumes, mounts, job, (broker, job))


def scram_secret_env_names() -> tuple[str, ...]:
    """The broker env vars whose value comes from a Secret (tests: never a literal)."""
    return (BROKER_JAAS_ENV,)


def maybe_broker_scram(users: list[str], names: KafkaNames, seed: Optional[pulumi.Input[str]], image: kx.PodImage, job_options: dict,
                       opts: pulumi.ResourceOptions, zookeeper_login: tuple = ((), ()), ca_certificate: str = "") -> Optional[BrokerScram]:
    """`broker_scram` for an authenticated cluster (names.sasl), None for an open one."""
    if not names.sasl:
        return None
    if seed is None:
        raise ValueError("SCRAM without msa:kafkaAuthSecret (config.check_secrets_present stops this earlier)")
    if KAFKA_BROKER_USER not in users:
        raise ValueError(f"the SCRAM users {users} lack the brokers' own ({KAFKA_BROKER_USER}): scram.scram_users lists it")
    return broker_scram(users, names, seed, image, job_options, opts, zookeeper_login, ca_certificate)
