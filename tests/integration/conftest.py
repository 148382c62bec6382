"""Fixtures shared by the integration tests (real Kafka and ZooKeeper: see kafka_cluster.py)."""

from integration.kafka_cluster import kafka_jars, kafka_session_world, kafka_tools, kafka_world  # noqa: F401
