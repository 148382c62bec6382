"""Every Kafka and ZooKeeper password, derived from the one seed msa:kafkaAuthSecret.

One secret to generate, store and rotate; each user's password is an HMAC of the user name under the
seed, so the seed itself never leaves Pulumi's config and state: the cluster (Secrets, pods) only ever
sees derived passwords, and a leaked password of one user says nothing about another's.
`derived_password` is pure; `kafka_user_secret` creates the per-consumer Secret a pod mounts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

from .. import k8s as kx
from ..names import KAFKA_USER_SECRET_PREFIX

SCRAM_MECHANISM = "SCRAM-SHA-512"
SCRAM_LOGIN_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
# msa:kafka.tls: the CA certificate beside client.properties (tls_settings.CLIENT_CA_KEY).
CA_FILE = "ca.crt"


def derived_password(seed: str, user: str) -> str:
    """base64url(HMAC-SHA256(key=seed, msg="msa/" + user)) without padding: 43 URL- and JAAS-safe characters."""
    if not seed:
        raise ValueError("empty seed: msa:kafkaAuthSecret must be set (config.check_secrets_present stops this earlier)")
    mac = hmac.new(seed.encode(), ("msa/" + user).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def user_password(secret_seed: pulumi.Input[str], user: str) -> pulumi.Output[str]:
    """The derived password of `user` as a secret Output (never plain in state or previews)."""
    return pulumi.Output.secret(pulumi.Output.from_input(secret_seed).apply(lambda seed: derived_password(seed, user)))


def scram_jaas_config(user: str, password: str) -> str:
    """The `sasl.jaas.config` value of a SCRAM client (derived passwords hold no quote or backslash)."""
    return f'{SCRAM_LOGIN_MODULE} required username="{user}" password="{password}";'


def client_properties(user: str, password: str, security_protocol: str = "SASL_PLAINTEXT", trust: Optional[Mapping[str, str]] = None) -> str:
    """What the Kafka CLI tools take with --command-config (and kafka-ui/Spring read as properties);
    `trust`: the truststore settings with TLS (tls_settings.truststore_file_properties)."""
    return (
        f"security.protocol={security_protocol}\n"
        f"sasl.mechanism={SCRAM_MECHANISM}\n"
        f"sasl.jaas.config={scram_jaas_config(user, password)}\n"
    ) + "".join(f"{k}={v}\n" for k, v in (trust or {}).items())


def user_secret_data(user: str, password: str, security_protocol: str = "SASL_PLAINTEXT", trust: Optional[Mapping[str, str]] = None,
                     ca_certificate: str = "") -> dict[str, str]:
    return {
        "username": user,
        "password": password,
        "sasl.jaas.config": scram_jaas_config(user, password),
        "client.properties": client_properties(user, password, security_protocol, trust),
        **({CA_FILE: ca_certificate} if ca_certificate else {}),
    }


def kafka_user_secret(user: str, secret_seed: pulumi.Input[str], namespace: str, component: str,
                      opts: Optional[pulumi.ResourceOptions] = None,
                      security_protocol: pulumi.Input[str] = "SASL_PLAINTEXT", trust: Optional[Mapping[str, str]] = None,
                      ca_certificate: str = "") -> k8s.core.v1.Secret:
    """The Secret of one Kafka user (kafka-user-<user>-<hash>): auto-named and immutable like the pull
    secret, so a new password is a new Secret and a rollout of its one consumer. One Secret per
    consumer: a pod mounts only its own user's credentials."""
    name = KAFKA_USER_SECRET_PREFIX + user
    data = pulumi.Output.all(user_password(secret_seed, user), security_protocol).apply(
        lambda args: user_secret_data(user, args[0], args[1], trust, ca_certificate))
    return k8s.core.v1.Secret(
        name,
        metadata=kx.metadata(name, namespace, component, autonamed=True),
        immutable=True,
        string_data=pulumi.Output.secret(data),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["data", "stringData"])),
    )
