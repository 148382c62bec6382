"""The secret `msa:*` keys: read with get_secret into Pulumi secret Outputs, never part of the typed
model's plain data (model.py)."""

from __future__ import annotations

from typing import Any

SECRET_KEYS = ("harborPassword", "sshPrivateKey", "kafkaUiPassword", "kafkaAuthSecret", "kafkaTlsCa")


class Secrets:
    """Secret config values, kept as Pulumi secret Outputs; `None` where not set."""
    def __init__(self, harbor_password: Any = None, ssh_private_key: Any = None, kafka_ui_password: Any = None,
                 kafka_auth_secret: Any = None, kafka_tls_ca: Any = None, kafka_tls_ca_certificate: str = ""):
        self.harbor_password = harbor_password
        self.ssh_private_key = ssh_private_key
        self.kafka_ui_password = kafka_ui_password
        # The seed every Kafka/ZooKeeper password derives from (msa/kafka/credentials.py); never sent anywhere.
        self.kafka_auth_secret = kafka_auth_secret
        # msa:kafka.tls: the CA (certificate + private key) that signs the brokers' certificate (kafka/tls_certificate.py),
        # and its certificate alone: public, what every client trusts (config/tls_ca.py).
        self.kafka_tls_ca = kafka_tls_ca
        self.kafka_tls_ca_certificate = kafka_tls_ca_certificate
