"""Fixtures shared by the integration tests (real Kafka and ZooKeeper: kafka_cluster.py; Spring apps: spring_apps.py)."""

from integration.kafka_cluster import kafka_jars, kafka_session_world, kafka_tools, kafka_world  # noqa: F401
from integration.spring_apps import spring_system  # noqa: F401
