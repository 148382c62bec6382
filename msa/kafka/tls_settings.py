"""The pure side of TLS on the SCRAM listener (tls.py has the component): the brokers' listener settings,
the certificate's names, the clients' trust settings and the brokers' keystore file."""

from __future__ import annotations

from ..names import KAFKA_SCRAM_LISTENER, KafkaNames

# The brokers' Secret and where they mount it.
BROKER_TLS_SECRET = "kafka-tls"
BROKER_TLS_DIR = "/etc/kafka/tls"
KEYSTORE_KEY, CA_KEY = "keystore.pem", "ca.crt"
# Every Kafka user's Secret carries the CA as `ca.crt` next to client.properties (client_auth.CLIENT_CONFIG_DIR).
CLIENT_CA_KEY = CA_KEY
# Every ordinal a stack may have (msa:kafka.brokers <= 9): scaling needs no new certificate.
MAX_BROKERS = 9


def _listener_env(prop: str) -> str:
    # settings.kafka_env_name of listener.name.scram.<prop> (settings imports broker_auth, which imports this module's users).
    full = f"listener.name.{KAFKA_SCRAM_LISTENER.lower()}.{prop}"
    return "KAFKA_" + full.replace("_", "__").replace("-", "___").replace(".", "_").upper()


def broker_tls_env() -> dict[str, str]:
    """The SCRAM listener's TLS settings as cp-kafka env: PEM keystore (key + chain) and truststore (the CA).
    Hostname verification stays on (Kafka's default `https`): peers are checked against their advertised names."""
    return {
        _listener_env("ssl.keystore.type"): "PEM",
        _listener_env("ssl.keystore.location"): f"{BROKER_TLS_DIR}/{KEYSTORE_KEY}",
        _listener_env("ssl.truststore.type"): "PEM",
        _listener_env("ssl.truststore.location"): f"{BROKER_TLS_DIR}/{CA_KEY}",
    }


def broker_san(names: KafkaNames, bootstrap_ip: str) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) of the broker certificate: every broker's advertised name, the bootstrap
    Service's names (short and qualified, as clients may spell it) and its fixed ClusterIP."""
    brokers = [names.broker_host(str(i)) for i in range(MAX_BROKERS)]
    bootstrap = [names.fqdn(names.bootstrap), names.bootstrap, f"{names.bootstrap}.{names.namespace}",
                 f"{names.bootstrap}.{names.namespace}.svc"]
    return [*brokers, *bootstrap], [bootstrap_ip]


def truststore_file_properties(folder: str) -> dict[str, str]:
    """A client.properties' trust settings: the CA file `ca.crt` in `folder` (the Secret volume)."""
    return {"ssl.truststore.type": "PEM", "ssl.truststore.location": f"{folder}/{CLIENT_CA_KEY}"}


def truststore_inline_properties(ca_certificate: str) -> dict[str, str]:
    """Spring's and kafka-ui's trust settings: the CA certificate itself (public), no file."""
    return {"ssl.truststore.type": "PEM", "ssl.truststore.certificates": ca_certificate}


def keystore_data(key_pem: str, cert_pem: str, ca_certificate: str) -> dict[str, str]:
    """The Secret's files: Kafka's PEM keystore file holds the private key, then the chain."""
    return {KEYSTORE_KEY: key_pem.rstrip("\n") + "\n" + cert_pem.rstrip("\n") + "\n" + ca_certificate, CA_KEY: ca_certificate}
