"""TLS on the SCRAM listener (msa:kafka.tls: true): what the brokers and every client get.

- Brokers: the certificate the stack issues from the team's CA (tls_certificate.py) reaches them as a
  Secret (`keystore.pem`: key, certificate, CA; `ca.crt`) mounted read-only; the listener's settings
  are listener-prefixed properties (listener.name.scram.ssl.*, a PEM keystore and truststore, KIP-651).
  The listener is named SCRAM, not SASL_SSL: cp-kafka's configure script would otherwise demand JKS
  files under /etc/kafka/secrets (names.py says why). Inter-broker traffic uses the same listener, so
  the brokers check each other's certificate and name as every client does.
- Clients trust the CA, never anything else: the Jobs and the brokers' readiness probe read
  `ssl.truststore.location` from their client.properties (the CA is the `ca.crt` item of the same Secret
  volume); Spring services and kafka-ui get the CA certificate inline (`ssl.truststore.certificates`,
  public), so their pods need no extra volume. A new CA is a new Secret and settings: the pods roll.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from .. import k8s as kx
from ..names import KafkaNames
from .tls_certificate import BrokerCertificate
from .tls_settings import BROKER_TLS_DIR, BROKER_TLS_SECRET, broker_san, broker_tls_env, keystore_data


@dataclass(frozen=True)
class BrokerTls:
    env: dict                # literal KAFKA_* settings of the broker container
    volume: k8s.core.v1.VolumeArgs
    mount: k8s.core.v1.VolumeMountArgs
    certificate: BrokerCertificate
    secret: k8s.core.v1.Secret


def broker_tls(names: KafkaNames, bootstrap_ip: str, ca: pulumi.Input[str], ca_certificate: str,
               opts: pulumi.ResourceOptions) -> BrokerTls:
    """The brokers' certificate (dynamic resource) and its Secret, auto-named and immutable: a renewed
    certificate is a new Secret name and a roll of the brokers."""
    dns, ips = broker_san(names, bootstrap_ip)
    certificate = BrokerCertificate("kafka-broker-certificate", ca, dns, ips, opts)
    data = pulumi.Output.all(certificate.keyPem, certificate.certPem).apply(lambda kc: keystore_data(kc[0], kc[1], ca_certificate))
    secret = k8s.core.v1.Secret(
        BROKER_TLS_SECRET,
        metadata=kx.metadata(BROKER_TLS_SECRET, names.namespace, "kafka", autonamed=True),
        immutable=True,
        string_data=pulumi.Output.secret(data),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["data", "stringData"])),
    )
    volume = k8s.core.v1.VolumeArgs(name="tls", secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=secret.metadata.name, default_mode=0o440))
    mount = k8s.core.v1.VolumeMountArgs(name="tls", mount_path=BROKER_TLS_DIR, read_only=True)
    return BrokerTls(broker_tls_env(), volume, mount, certificate, secret)


def maybe_broker_tls(tls: bool, names: KafkaNames, bootstrap_ip: str, ca: Optional[pulumi.Input[str]], ca_certificate: str,
                     opts: pulumi.ResourceOptions) -> Optional[BrokerTls]:
    if not tls:
        return None
    if ca is None or not ca_certificate:
        raise ValueError("kafka.tls without msa:kafkaTlsCa (config.check_secrets_present stops this earlier)")
    return broker_tls(names, bootstrap_ip, ca, ca_certificate, opts)
