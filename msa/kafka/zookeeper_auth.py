"""Who may change ZooKeeper (issue 17): its super user, and Kafka's brokers over SASL.

ZooKeeper runs without bypassing its ACLs (the stack did so before, for `reconfig`), so they hold: `/zookeeper/config` (what `reconfig` writes)
is read-only for everyone, and only the digest super user may change the ensemble. The members' start
script (`reconfig -add`) and the zookeeper-shrink Job (`reconfig -remove`) log in as that user with
`addauth digest super:<password>` on zookeeper-shell's stdin. The servers know it only as
`-Dzookeeper.DigestAuthenticationProvider.superDigest=super:<digest>` (digest = base64(sha1("super:" +
password)), ZooKeeper's DigestAuthenticationProvider.generateDigest).

Kafka's brokers log in with SASL DIGEST-MD5 as `kafka` (a JAAS `Client` section); every server has the
matching `Server` section and the SASL authentication provider, whatever msa:kafka.authentication says,
so turning Kafka's authentication on later changes only the brokers. With `zookeeper.set.acl=true` the
brokers create Kafka's znodes writable by `sasl:kafka` only (and readable by everyone, as Kafka wants
for all but its credentials); `zookeeper-security-migration` gives the znodes that exist already the
same ACLs.

Everything secret reaches the pods as files of immutable, content-named Secrets: never env values, a
ConfigMap or the rendered YAML. The passwords derive from msa:kafkaAuthSecret (credentials.py).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from .. import k8s as kx
from ..names import ZOOKEEPER_AUTH_SECRET, ZOOKEEPER_KAFKA_USER, ZOOKEEPER_LOGIN_SECRET, ZOOKEEPER_SUPER_USER
from .credentials import derived_password

# Where the ZooKeeper members and the zookeeper-shrink Job find the super user's files.
SERVER_AUTH_DIR = "/etc/msa/zookeeper-auth"
# Where a broker (and the ACL migration Job) finds its JAAS file with the `Client` section.
CLIENT_AUTH_DIR = "/etc/msa/zookeeper-login"
SUPER_PASSWORD_FILE, SUPER_DIGEST_FILE, SERVER_JAAS_FILE = "super-password", "super-digest", "server-jaas.conf"
CLIENT_JAAS_FILE = "client-jaas.conf"
SASL_PROVIDER = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
DIGEST_LOGIN_MODULE = "org.apache.zookeeper.server.auth.DigestLoginModule"

# The brokers' side of Kafka's documented order for securing ZooKeeper on a running cluster
# (docs "Migrating clusters"): `open` (no login, today's cluster) -> `login` (a rolling restart with the
# JAAS login, znodes still created open) -> `secure` (another roll with zookeeper.set.acl=true), then
# `zookeeper-security-migration --zookeeper.acl=secure` for the znodes created before.
PHASES = ("open", "login", "secure")


def super_digest(password: str) -> str:
    """`super:<base64(sha1("super:" + password))>`: the value of zookeeper.DigestAuthenticationProvider.superDigest."""
    user = ZOOKEEPER_SUPER_USER
    return f"{user}:" + base64.b64encode(hashlib.sha1(f"{user}:{password}".encode()).digest()).decode()


def server_jaas(kafka_password: str) -> str:
    """The ZooKeeper servers' JAAS file: the one SASL user, the brokers' `kafka`."""
    return f'Server {{\n  {DIGEST_LOGIN_MODULE} required\n  user_{ZOOKEEPER_KAFKA_USER}="{kafka_password}";\n}};\n'


def client_jaas(kafka_password: str) -> str:
    """A broker's JAAS file: its ZooKeeper login (section `Client`, the ZooKeeper client's default)."""
    return (f'Client {{\n  {DIGEST_LOGIN_MODULE} required\n  username="{ZOOKEEPER_KAFKA_USER}"\n'
            f'  password="{kafka_password}";\n}};\n')


def server_secret_data(seed: str) -> dict[str, str]:
    password = derived_password(seed, ZOOKEEPER_SUPER_USER)
    return {
        SUPER_PASSWORD_FILE: password,
        SUPER_DIGEST_FILE: super_digest(password),
        SERVER_JAAS_FILE: server_jaas(derived_password(seed, ZOOKEEPER_KAFKA_USER)),
    }


def client_secret_data(seed: str) -> dict[str, str]:
    return {CLIENT_JAAS_FILE: client_jaas(derived_password(seed, ZOOKEEPER_KAFKA_USER))}


def zookeeper_server_env() -> dict[str, str]:
    """The members' env for their auth (no secret in it): cp-zookeeper writes authProvider.sasl into
    zookeeper.properties; the start script reads the files in ZK_AUTH_DIR."""
    return {"ZOOKEEPER_AUTH_PROVIDER_SASL": SASL_PROVIDER, "ZK_AUTH_DIR": SERVER_AUTH_DIR}


def zookeeper_client_env(phase: str) -> dict[str, str]:
    """A broker's ZooKeeper login in one phase (PHASES) as cp-kafka env: KAFKA_OPTS points the JVM at
    the JAAS file (mounted from `client_auth_volume`), KAFKA_ZOOKEEPER_SET_ACL becomes zookeeper.set.acl.
    `open` is today's broker: nothing. The env holds no secret."""
    if phase not in PHASES:
        raise ValueError(f"unknown ZooKeeper login phase {phase!r}; one of {', '.join(PHASES)}")
    if phase == "open":
        return {}
    return {
        "KAFKA_OPTS": f"-Djava.security.auth.login.config={CLIENT_AUTH_DIR}/{CLIENT_JAAS_FILE}",
        "KAFKA_ZOOKEEPER_SET_ACL": "true" if phase == "secure" else "false",
    }


def acl_migration_env(connect: str) -> dict[str, str]:
    """The zookeeper-acl-migration Job's env (scripts/zookeeper-acl-migration.sh)."""
    return {"ZOOKEEPER_CONNECT": connect, "ZK_LOGIN_DIR": CLIENT_AUTH_DIR}


def _secret(name: str, data: pulumi.Output, namespace: str, component: str, opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret:
    # Auto-named and immutable like the pull secret: a new password is a new Secret and a roll.
    return k8s.core.v1.Secret(
        name, metadata=kx.metadata(name, namespace, component, autonamed=True), immutable=True,
        string_data=pulumi.Output.secret(data),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["data", "stringData"])),
    )


def zookeeper_server_secret(seed: pulumi.Input[str], namespace: str, opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret:
    """zookeeper-auth-<hash>: the super user's password and digest, the servers' JAAS file."""
    return _secret(ZOOKEEPER_AUTH_SECRET, pulumi.Output.secret(seed).apply(server_secret_data), namespace, "zookeeper", opts)


def zookeeper_client_secret(seed: pulumi.Input[str], namespace: str, opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret:
    """kafka-zookeeper-login-<hash>: the brokers' JAAS file (user kafka)."""
    return _secret(ZOOKEEPER_LOGIN_SECRET, pulumi.Output.secret(seed).apply(client_secret_data), namespace, "kafka", opts)


def secret_volume(name: str, secret: k8s.core.v1.Secret, mount_path: str,
                  items: Optional[list[str]] = None) -> tuple[k8s.core.v1.VolumeArgs, k8s.core.v1.VolumeMountArgs]:
    """(volume, mount) of `secret`'s files, read-only, group-readable (the pods' fsGroup), `items` only if given."""
    source = k8s.core.v1.SecretVolumeSourceArgs(
        secret_name=secret.metadata.name, default_mode=0o440,
        items=[k8s.core.v1.KeyToPathArgs(key=k, path=k) for k in items] if items else None,
    )
    return (k8s.core.v1.VolumeArgs(name=name, secret=source),
            k8s.core.v1.VolumeMountArgs(name=name, mount_path=mount_path, read_only=True))


def steady_phase(authentication: str) -> str:
    """The brokers' ZooKeeper phase once a cluster runs with msa:kafka.authentication."""
    return "secure" if authentication == "sasl" else "open"


# The Kafka listeners' transition (one roll per `pulumi up`, broker_auth.PHASES) carries the ZooKeeper
# login along, Kafka's order for both: the brokers log in to ZooKeeper in the first roll (`scram-added`),
# set ACLs from the second (`inter-broker-scram`), after which the zookeeper-acl-migration Job runs. By
# then every broker is logged in, so no broker still without a login meets a znode only `kafka` may write.
ZOOKEEPER_PHASE_OF_BROKER_PHASE = {"open": "open", "scram-added": "login", "inter-broker-scram": "secure", "scram-only": "secure"}


def zookeeper_phase_of(broker_phase: str) -> str:
    """The ZooKeeper login phase (PHASES) of a listener phase of the Kafka transition."""
    if broker_phase not in ZOOKEEPER_PHASE_OF_BROKER_PHASE:
        raise ValueError(f"unknown broker phase {broker_phase!r}; one of {', '.join(ZOOKEEPER_PHASE_OF_BROKER_PHASE)}")
    return ZOOKEEPER_PHASE_OF_BROKER_PHASE[broker_phase]


@dataclass(frozen=True)
class BrokerLogin:
    """What a broker pod needs for its ZooKeeper login in one phase."""

    phase: str
    env: dict
    volumes: tuple = ()      # k8s VolumeArgs of the pod
    mounts: tuple = ()       # VolumeMountArgs of the broker container
    waits_for: tuple = ()    # the Secret: it exists before a pod mounts it

    @property
    def sets_acls(self) -> bool:
        return self.phase == "secure"


def broker_zookeeper_login(phase: str, seed: Optional[pulumi.Input[str]], namespace: str,
                           opts: pulumi.ResourceOptions) -> BrokerLogin:
    """The kafka-zookeeper-login Secret and the env, volume and mount that use it (nothing when `open`)."""
    env = zookeeper_client_env(phase)
    if phase == "open":
        return BrokerLogin(phase, env)
    if seed is None:
        raise ValueError("a ZooKeeper login without msa:kafkaAuthSecret (config.check_secrets_present stops this earlier)")
    secret = zookeeper_client_secret(seed, namespace, opts)
    volume, mount = secret_volume("zookeeper-login", secret, CLIENT_AUTH_DIR)
    return BrokerLogin(phase, env, (volume,), (mount,), (secret,))
