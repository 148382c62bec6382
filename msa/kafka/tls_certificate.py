"""The brokers' TLS certificate (msa:kafka.tls), issued by the stack from the team's CA.

A Pulumi dynamic resource, so the broker's private key is made once (at create) and kept in the
stack's state as a secret output; every later up reuses it. The certificate is issued again, with the
same key, when the CA or the names change or when it has less than RENEW_DAYS left (the provider's
diff sees the stored expiry on every preview and up, so `pulumi up` renews and the brokers roll).

The provider is pickled into the state and runs in Pulumi's dynamic-provider process: it imports
only the standard library, cryptography and pulumi.dynamic, never the rest of msa.

One certificate serves every broker: its SANs are each broker's advertised per-pod name (for every
ordinal a stack may have, so scaling needs no new certificate), the bootstrap Service's names and
its fixed ClusterIP.
"""

from __future__ import annotations

import datetime
import ipaddress
from typing import Optional, Sequence

import pulumi
from pulumi import dynamic

RENEW_DAYS = 30
VALIDITY_DAYS = 365
ID = "kafka-broker-certificate"
# The inputs and outputs (camelCase: Pulumi property names).
CA, DNS, IPS = "caPem", "dnsNames", "ipAddresses"
KEY, CERT, NOT_AFTER = "keyPem", "certPem", "notAfter"


def new_key_pem() -> str:
    """A broker key: EC P-256 (Kafka's PEM keystore reads PKCS#8 RSA, DSA and EC keys), unencrypted PKCS#8."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def issue(ca_pem: str, key_pem: str, dns_names: Sequence[str], ip_addresses: Sequence[str],
          now: Optional[datetime.datetime] = None, days: int = VALIDITY_DAYS) -> str:
    """A server certificate for `key_pem`'s public key, signed by the CA in `ca_pem` (certificate + key),
    valid `days` (never beyond the CA), for `dns_names` and `ip_addresses`."""
    import re

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = now or datetime.datetime.now(datetime.timezone.utc)
    ca_cert = x509.load_pem_x509_certificate(re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", ca_pem, re.S)[0].encode())
    ca_key = serialization.load_pem_private_key(
        re.search(r"-----BEGIN ((?:RSA |EC )?PRIVATE KEY)-----.+?-----END \1-----", ca_pem, re.S)[0].encode(), password=None)
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    not_after = min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc)
    sans = [x509.DNSName(n) for n in dns_names] + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0])]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            # Server and client: a broker is the client of its peers on the inter-broker listener.
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def not_after(cert_pem: str) -> str:
    from cryptography import x509

    return x509.load_pem_x509_certificate(cert_pem.encode()).not_valid_after_utc.isoformat()


def renewal_due(stored_not_after: Optional[str], now: Optional[datetime.datetime] = None) -> bool:
    """Whether a certificate valid until `stored_not_after` (ISO) is to be issued again (< RENEW_DAYS left)."""
    if not stored_not_after:
        return True
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return datetime.datetime.fromisoformat(stored_not_after) - now < datetime.timedelta(days=RENEW_DAYS)


def issued_outputs(props: dict, key_pem: str) -> dict:
    cert = issue(props[CA], key_pem, list(props[DNS]), list(props[IPS]))
    return {**props, KEY: key_pem, CERT: cert, NOT_AFTER: not_after(cert)}


class BrokerCertificateProvider(dynamic.ResourceProvider):
    """Makes the key once; issues (again) when the CA or names change or the certificate is due."""

    def create(self, props):
        return dynamic.CreateResult(id_=ID, outs=issued_outputs(props, new_key_pem()))

    def diff(self, _id, _olds, _news):
        changed = any(_olds.get(k) != _news.get(k) for k in (CA, DNS, IPS))
        return dynamic.DiffResult(changes=changed or renewal_due(_olds.get(NOT_AFTER)))

    def update(self, _id, _olds, _news):
        return dynamic.UpdateResult(outs=issued_outputs(_news, _olds.get(KEY) or new_key_pem()))


class BrokerCertificate(dynamic.Resource, module="kafka", name="BrokerCertificate"):
    """`keyPem` (secret), `certPem`, `notAfter`: the brokers' key and certificate."""

    keyPem: pulumi.Output[str]  # noqa: N815  (output properties, as the provider names them)
    certPem: pulumi.Output[str]  # noqa: N815
    notAfter: pulumi.Output[str]  # noqa: N815

    def __init__(self, name: str, ca_pem: pulumi.Input[str], dns_names: Sequence[str], ip_addresses: Sequence[str],
                 opts: Optional[pulumi.ResourceOptions] = None):
        props = {CA: pulumi.Output.secret(ca_pem), DNS: list(dns_names), IPS: list(ip_addresses), KEY: None, CERT: None, NOT_AFTER: None}
        super().__init__(BrokerCertificateProvider(), name, props,
                         pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=[CA, KEY])))
