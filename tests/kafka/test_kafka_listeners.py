"""Kafka's listener names and ports (issue 17): the open listener, the SCRAM listener, and which one
the clients' bootstrap address names."""

from msa.names import KAFKA_PORT, KAFKA_SCRAM_LISTENER, KAFKA_SCRAM_PORT, KafkaNames, reserved_names


def test_open_cluster_keeps_plaintext_on_9092():
    names = KafkaNames("msa", "cluster.local")
    assert names.bootstrap_servers == f"kafka-bootstrap.msa.svc.cluster.local:{KAFKA_PORT}"
    assert names.broker_advertised_listener("kafka-0") == "PLAINTEXT://kafka-0.kafka-headless.msa.svc.cluster.local:9092"


def test_authenticated_cluster_bootstraps_the_same_host_on_the_scram_port():
    open_names, sasl = KafkaNames("msa", "cluster.local"), KafkaNames("msa", "cluster.local", sasl=True)
    assert sasl.bootstrap_servers.rsplit(":", 1) == [open_names.bootstrap_servers.rsplit(":", 1)[0], str(KAFKA_SCRAM_PORT)]
    assert sasl.broker_advertised_listener("kafka-2") == f"{KAFKA_SCRAM_LISTENER}://kafka-2.kafka-headless.msa.svc.cluster.local:9094"
    # Both listeners side by side during the transition: each on its own port, whatever the mode.
    assert sasl.broker_advertised_listener("kafka-2", "PLAINTEXT").endswith(":9092")
    assert KAFKA_SCRAM_PORT != KAFKA_PORT


def test_the_mode_is_not_an_object_name():
    assert "True" not in reserved_names() and "False" not in reserved_names()
