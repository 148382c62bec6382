"""The team's CA for Kafka's TLS (the secret msa:kafkaTlsCa), checked before anything is registered.

The secret holds the CA certificate and its private key in PEM, one after the other (docs/security.md
shows the openssl commands that make them). The stack signs the brokers' certificate with it
(msa/kafka/tls_certificate.py); the certificate alone is public: every Kafka client gets it as its
truststore. Pure: `ca_problem` says what is wrong in one line, `ca_certificate_pem` returns the public part.
"""

from __future__ import annotations

import datetime
import re
from typing import Optional

CERTIFICATE_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
KEY_BLOCK = re.compile(r"-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----.+?-----END \1-----", re.S)
HOW = "set the CA certificate followed by its unencrypted private key: cat ca.crt ca.key | pulumi config set --secret msa:kafkaTlsCa (docs/security.md)"


def ca_certificate_pem(text: str) -> str:
    """The CA certificate block (the first one) of the secret's text: what clients trust."""
    match = CERTIFICATE_BLOCK.search(text or "")
    if not match:
        raise ValueError("no CA certificate in msa:kafkaTlsCa (config.tls_ca.ca_problem stops this earlier)")
    return match[0] + "\n"


def _load(text: str):
    """(certificate, private key) or a one-line problem."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert_match, key_match = CERTIFICATE_BLOCK.search(text), KEY_BLOCK.search(text)
    if not cert_match:
        return None, None, f"holds no PEM certificate (-----BEGIN CERTIFICATE-----); {HOW}"
    if not key_match:
        return None, None, f"holds no PEM private key (-----BEGIN PRIVATE KEY-----) after the certificate; {HOW}"
    if key_match[1] == "ENCRYPTED PRIVATE KEY":
        return None, None, f"the private key is encrypted; decrypt it (openssl pkey -in ca.key -out ca-plain.key) and {HOW}"
    try:
        cert = x509.load_pem_x509_certificate(cert_match[0].encode())
    except ValueError as error:
        return None, None, f"the certificate is not valid PEM ({str(error).splitlines()[0][:120]}); {HOW}"
    try:
        key = serialization.load_pem_private_key(key_match[0].encode(), password=None)
    except (ValueError, TypeError) as error:
        return None, None, f"the private key is not valid PEM ({str(error).splitlines()[0][:120]}); {HOW}"
    return cert, key, None


def ca_problem(text: Optional[str], now: Optional[datetime.datetime] = None) -> Optional[str]:
    """None when `text` is a usable CA (certificate + matching key, a CA that may sign certificates,
    valid now, RSA or EC), else what is wrong in one line (without the key name)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    cert, key, problem = _load(text or "")
    if problem:
        return problem
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        return f"the CA key is {type(key).__name__.lstrip('_')}; use an RSA or EC key (openssl genrsa / ecparam), which every Kafka client accepts"
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, public) != cert.public_key().public_bytes(serialization.Encoding.DER, public):
        return f"the private key does not belong to the certificate ({cert.subject.rfc4514_string()}); {HOW}"
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        return (f"{cert.subject.rfc4514_string()} is not a CA certificate (no basicConstraints CA:TRUE); make one with "
                "openssl req -x509 ... -addext basicConstraints=critical,CA:TRUE (docs/security.md)")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.key_cert_sign:
        return f"{cert.subject.rfc4514_string()} may not sign certificates (keyUsage lacks keyCertSign); make a CA with keyUsage=critical,keyCertSign,cRLSign"
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if cert.not_valid_after_utc <= now:
        return f"the CA certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}; make a new CA (docs/security.md) and set it"
    if cert.not_valid_before_utc > now:
        return f"the CA certificate is valid only from {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC; check the clock of the machine that made it"
    return None


def make_ca(common_name: str = "msa render-only CA", days: int = 3650, now: Optional[datetime.datetime] = None) -> str:
    """A new self-signed CA (EC P-256) as msa:kafkaTlsCa holds one: certificate, then unencrypted key.
    For the offline render of a stack whose real CA is encrypted in its stack file, and for tests;
    a team makes its own with openssl (docs/security.md)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = now or datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM).decode() + key_pem.decode()
